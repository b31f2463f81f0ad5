"""Token shards: tokenized text cached as uint16/uint32 memmap files, so a multi-GB corpus never
sits in RAM. A shard directory holds meta.json and {train,val}_NNN.bin; it is reused as long as
the source and tokenizer fingerprints match, and can be passed directly as `--data DIR`.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from qtk.data.corpus import Corpus
from qtk.data.tokenizer import Tokenizer, fingerprint, from_json
from qtk.errors import QtkError, UsageError

FORMAT = "qtk-tokens-v1"
SHARD_TOKENS = 1 << 27  # 256 MiB of uint16 per file
Progress = Callable[[int, int], None]  # (bytes done, bytes total)


class TokenStream:
    """A split as one long token sequence over several memmapped shard files."""

    def __init__(self, paths: list[Path], dtype: str, n_bytes: int) -> None:
        self.arrays = [np.memmap(p, dtype=dtype, mode="r") for p in paths if p.stat().st_size > 0]
        self.starts = [0]
        for a in self.arrays:
            self.starts.append(self.starts[-1] + len(a))
        self.n_bytes = n_bytes  # UTF-8 bytes of the text these tokens encode (for bits per byte)

    def __len__(self) -> int:
        return self.starts[-1]

    def get(self, start: int, length: int) -> np.ndarray:
        """Tokens [start, start+length) as int64, across shard boundaries."""
        out = np.empty(length, dtype=np.int64)
        pos, filled = start, 0
        while filled < length:
            i = bisect.bisect_right(self.starts, pos) - 1
            if i >= len(self.arrays):
                raise IndexError(f"token {pos} past the end ({len(self)})")
            local = pos - self.starts[i]
            take = min(length - filled, len(self.arrays[i]) - local)
            out[filled:filled + take] = self.arrays[i][local:local + take]
            filled += take
            pos += take
        return out


@dataclass
class TokenData:
    root: Path
    tokenizer: Tokenizer
    train: TokenStream
    val: TokenStream
    source: str


def _dtype_for(vocab_size: int) -> str:
    return "uint16" if vocab_size <= 1 << 16 else "uint32"


def _write_split(docs: list[bytes], tok: Tokenizer, root: Path, split: str, dtype: str,
                 progress: Progress | None, done: list[int], total: int) -> dict:
    shards, buf, n_tokens, index, n_bytes = [], [], 0, 0, 0
    buffered = 0

    def flush(force: bool) -> None:
        nonlocal buf, buffered, index
        while buffered >= SHARD_TOKENS or (force and buffered):
            flat = np.concatenate(buf).astype(dtype)
            head, rest = flat[:SHARD_TOKENS], flat[SHARD_TOKENS:]
            name = f"{split}_{index:03d}.bin"
            head.tofile(root / name)
            shards.append(name)
            index += 1
            buf, buffered = ([rest] if len(rest) else []), len(rest)

    for doc in docs:
        ids = np.asarray([tok.eot_id] + tok.encode(doc), dtype=np.int64)
        buf.append(ids)
        buffered += len(ids)
        n_tokens += len(ids)
        n_bytes += len(doc)
        done[0] += len(doc)
        if progress:
            progress(done[0], total)
        flush(False)
    flush(True)
    return {"shards": shards, "tokens": n_tokens, "bytes": n_bytes}


def build(corpus: Corpus, tok: Tokenizer, cache_root: Path, progress: Progress | None = None) -> Path:
    """Tokenize `corpus` into a cached shard directory (atomic: built aside, then renamed)."""
    key = hashlib.sha256(f"{corpus.fingerprint}:{fingerprint(tok)}:{FORMAT}".encode()).hexdigest()[:24]
    final = cache_root / "tokens" / f"{corpus.name}-{tok.name}-{key}"
    if (final / "meta.json").is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=final.parent))
    try:
        dtype = _dtype_for(tok.vocab_size)
        total = sum(len(d) for d in corpus.train) + sum(len(d) for d in corpus.val)
        done = [0]
        splits = {s: _write_split(docs, tok, tmp, s, dtype, progress, done, total)
                  for s, docs in (("train", corpus.train), ("val", corpus.val))}
        meta = {"format": FORMAT, "dtype": dtype, "source": corpus.name, "fingerprint": corpus.fingerprint,
                "tokenizer": tok.to_json(), "splits": splits}
        (tmp / "meta.json").write_text(json.dumps(meta))
        try:
            os.replace(tmp, final)
        except OSError:  # another process built it first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def is_shard_dir(path: Path) -> bool:
    return (path / "meta.json").is_file() and path.is_dir()


def open_dir(root: Path) -> TokenData:
    """Open a shard directory written by `build` (or passed as `--data DIR`)."""
    try:
        meta = json.loads((root / "meta.json").read_text())
    except (OSError, ValueError) as e:
        raise UsageError(f"{root}/meta.json: unreadable token-shard metadata ({e})") from None
    if meta.get("format") != FORMAT:
        raise UsageError(f"{root}: not a qtk token-shard directory (format {meta.get('format')!r})")
    tok = from_json(meta["tokenizer"])
    streams = {}
    for split in ("train", "val"):
        info = meta["splits"][split]
        paths = [root / s for s in info["shards"]]
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            raise QtkError(f"{root}: missing shard files {missing}")
        streams[split] = TokenStream(paths, meta["dtype"], info["bytes"])
    return TokenData(root, tok, streams["train"], streams["val"], meta.get("source", root.name))
