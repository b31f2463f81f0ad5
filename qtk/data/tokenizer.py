"""Tokenizers: `byte` (256 byte values + <|endoftext|>) and `bpe` (byte-level BPE trained locally
with Hugging Face `tokenizers`). Both map any bytes to ids and back without unknowns, and both
serialise to a JSON dict that travels inside every checkpoint.
"""

from __future__ import annotations

import hashlib
import json
from typing import Iterable, Protocol

from qtk.errors import QtkError, UsageError

EOT = "<|endoftext|>"


class Tokenizer(Protocol):
    name: str
    vocab_size: int  # ids are in [0, vocab_size)
    eot_id: int

    def encode(self, data: bytes) -> list[int]: ...
    def decode_bytes(self, ids: Iterable[int]) -> bytes: ...
    def to_json(self) -> dict: ...


def decode(tok: Tokenizer, ids: Iterable[int]) -> str:
    return tok.decode_bytes(ids).decode("utf-8", errors="replace")


def fingerprint(tok: Tokenizer) -> str:
    return hashlib.sha256(json.dumps(tok.to_json(), sort_keys=True).encode()).hexdigest()[:16]


class ByteTokenizer:
    name = "byte"
    vocab_size = 257
    eot_id = 256

    def encode(self, data: bytes) -> list[int]:
        return list(data)

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        return bytes(i for i in ids if 0 <= i < 256)

    def to_json(self) -> dict:
        return {"type": "byte"}


def _bytes_to_unicode() -> dict[int, str]:
    """The GPT-2 byte-level alphabet: printable bytes stand for themselves, the rest are shifted
    past 255 so every byte has a visible, whitespace-free character."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    mapping, extra = {}, 0
    for b in range(256):
        if b in keep:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


_BYTE_OF_CHAR = {c: b for b, c in _bytes_to_unicode().items()}


class BPETokenizer:
    name = "bpe"

    def __init__(self, hf_tokenizer) -> None:
        self._tok = hf_tokenizer
        self.vocab_size = hf_tokenizer.get_vocab_size()
        eot = hf_tokenizer.token_to_id(EOT)
        if eot is None:
            raise QtkError(f"BPE tokenizer has no {EOT} token")
        self.eot_id = eot
        self._piece_bytes = [self._bytes_of(hf_tokenizer.id_to_token(i)) for i in range(self.vocab_size)]

    @staticmethod
    def _bytes_of(piece: str | None) -> bytes:
        if piece is None or piece == EOT:
            return b""
        return bytes(_BYTE_OF_CHAR[c] for c in piece)

    def encode(self, data: bytes) -> list[int]:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise UsageError(f"text is not valid UTF-8 at byte {e.start} (use --tokenizer byte for raw bytes)") from None
        return self._tok.encode(text, add_special_tokens=False).ids

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        pieces = self._piece_bytes
        return b"".join(pieces[i] for i in ids if 0 <= i < len(pieces))

    def to_json(self) -> dict:
        return {"type": "bpe", "tokenizer": json.loads(self._tok.to_str())}


def train_bpe(docs: Iterable[bytes], vocab_size: int) -> BPETokenizer:
    """Byte-level BPE trained on `docs` (the training split only)."""
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import decoders, models, pre_tokenizers, trainers

    tok = HFTokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )

    def texts():
        for d in docs:
            try:
                yield d.decode("utf-8")
            except UnicodeDecodeError as e:
                raise UsageError(f"training text is not valid UTF-8 at byte {e.start} "
                                 "(use --tokenizer byte for raw bytes)") from None

    tok.train_from_iterator(texts(), trainer=trainer)
    return BPETokenizer(tok)


def from_json(data: dict) -> Tokenizer:
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "byte":
        return ByteTokenizer()
    if kind == "bpe":
        from tokenizers import Tokenizer as HFTokenizer

        try:
            return BPETokenizer(HFTokenizer.from_str(json.dumps(data["tokenizer"])))
        except Exception as e:  # tokenizers raises its own exception types
            raise QtkError(f"corrupt BPE tokenizer: {e}") from None
    raise QtkError(f"unknown tokenizer description: {str(data)[:80]!r}")
