"""Tokenizers: `byte` (256 byte values + <|endoftext|>) and `bpe` (byte-level BPE trained locally
with Hugging Face `tokenizers`). Both map any bytes to ids and back without unknowns, and both
serialise to a JSON dict that travels inside every checkpoint.

Special tokens beyond <|endoftext|> (the chat template's <|im_start|> / <|im_end|>, ChatML) are
added by `with_specials`: they take the next ids and are stored in the tokenizer's JSON, so a
checkpoint says which it knows; a byte tokenizer without them serialises as before.
"""

from __future__ import annotations

import hashlib
import json
from typing import Iterable, Protocol

from qtk.errors import QtkError, UsageError

EOT = "<|endoftext|>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"


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


def special_id(tok: Tokenizer, token: str) -> int | None:
    """The id of a special token, or None when the tokenizer does not know it."""
    if token == EOT:
        return tok.eot_id
    return getattr(tok, "special_ids", {}).get(token)


class ByteTokenizer:
    """Ids 0-255 are bytes; 256 is <|endoftext|>; further special tokens follow from 257."""

    name = "byte"
    eot_id = 256

    def __init__(self, specials: Iterable[str] = ()) -> None:
        extra = [t for t in specials if t != EOT]
        if len(set(extra)) != len(extra):
            raise QtkError(f"byte tokenizer: repeated special tokens {extra}")
        self.special_ids = {t: 257 + i for i, t in enumerate(extra)}
        self.vocab_size = 257 + len(extra)

    def encode(self, data: bytes) -> list[int]:
        return list(data)

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        return bytes(i for i in ids if 0 <= i < 256)

    def to_json(self) -> dict:
        return {"type": "byte", "specials": list(self.special_ids)} if self.special_ids else {"type": "byte"}


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
        added = {t.content for t in hf_tokenizer.get_added_tokens_decoder().values()} - {EOT}
        self.special_ids = {t: hf_tokenizer.token_to_id(t) for t in sorted(added)}
        self._piece_bytes = [self._bytes_of(hf_tokenizer.id_to_token(i)) for i in range(self.vocab_size)]

    def _bytes_of(self, piece: str | None) -> bytes:
        if piece is None or piece == EOT or piece in self.special_ids:
            return b""  # special tokens mark structure; they are not text
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


def with_specials(tok: Tokenizer, tokens: Iterable[str]) -> Tokenizer:
    """`tok` knowing `tokens` as special tokens too (new ids after its current ones); `tok`
    itself when it knows them all already."""
    missing = [t for t in tokens if special_id(tok, t) is None]
    if not missing:
        return tok
    if isinstance(tok, ByteTokenizer):
        return ByteTokenizer([*tok.special_ids, *missing])
    if isinstance(tok, BPETokenizer):
        from tokenizers import Tokenizer as HFTokenizer

        hf = HFTokenizer.from_str(tok._tok.to_str())  # a copy: the caller's tokenizer stays as it is
        hf.add_special_tokens(missing)
        return BPETokenizer(hf)
    raise QtkError(f"tokenizer {tok.name!r} cannot take special tokens")


def from_json(data: dict) -> Tokenizer:
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "byte":
        specials = data.get("specials", [])
        if not isinstance(specials, list) or not all(isinstance(t, str) for t in specials):
            raise QtkError(f"unknown tokenizer description: {str(data)[:80]!r}")
        return ByteTokenizer(specials)
    if kind == "bpe":
        from tokenizers import Tokenizer as HFTokenizer

        try:
            return BPETokenizer(HFTokenizer.from_str(json.dumps(data["tokenizer"])))
        except Exception as e:  # tokenizers raises its own exception types
            raise QtkError(f"corrupt BPE tokenizer: {e}") from None
    raise QtkError(f"unknown tokenizer description: {str(data)[:80]!r}")
