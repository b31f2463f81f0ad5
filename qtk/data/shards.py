"""Token shards: tokenized text cached as uint16/uint32 memmap files, so a multi-GB corpus never
sits in RAM. A shard directory holds meta.json and {train,val}_NNN.bin; it is reused as long as
the source and tokenizer fingerprints match, and can be passed directly as `--data DIR`.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from qtk.data import tokenize
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


def _n_bytes(docs) -> int:
    n = getattr(docs, "n_bytes", None)  # record data sets know it without reading the text
    return n if n is not None else (sum(len(d) for d in docs) if isinstance(docs, list) else 0)


def build(corpus: Corpus, tok: Tokenizer, cache_root: Path, progress: Progress | None = None,
          workers: int = 1) -> Path:
    """Tokenize `corpus` into a cached shard directory with `workers` processes. Chunks encoded so far
    survive an interruption (in .partial-KEY); the directory itself appears whole, by one rename."""
    key = hashlib.sha256(f"{corpus.fingerprint}:{fingerprint(tok)}:{FORMAT}".encode()).hexdigest()[:24]
    final = cache_root / "tokens" / f"{corpus.name}-{tok.name}-{key}"
    if (final / "meta.json").is_file():
        return final
    _mk(final.parent)
    # one builder at a time (torchrun starts every rank on the same cache): the others wait, then reuse
    with _locked(final.parent / f".lock-{key}"):
        if not (final / "meta.json").is_file():
            _build(corpus, tok, final, key, progress, workers)
    return final


@contextlib.contextmanager
def _locked(path: Path):
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock (concurrent builders then only repeat work)
        yield
        return
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _build(corpus: Corpus, tok: Tokenizer, final: Path, key: str, progress: Progress | None, workers: int) -> None:
    work = final.parent / f".partial-{key}"
    dtype = _dtype_for(tok.vocab_size)
    total = _n_bytes(corpus.train) + _n_bytes(corpus.val)
    if total and total < 2 * tokenize.CHUNK_BYTES:
        workers = 1  # starting processes would cost more than encoding a few MiB
    done = [0]
    out = Path(tempfile.mkdtemp(prefix=".build-", dir=final.parent))
    try:
        splits = {}
        for split, docs in (("train", corpus.train), ("val", corpus.val)):
            chunks, n_bytes = tokenize.encode_split(docs, tok, work, split, dtype, workers, progress, done, total)
            names, n_tokens = tokenize.concat_to_shards(chunks, out, split, dtype, SHARD_TOKENS)
            splits[split] = {"shards": names, "tokens": n_tokens, "bytes": n_bytes}
        meta = {"format": FORMAT, "dtype": dtype, "source": corpus.name, "fingerprint": corpus.fingerprint,
                "tokenizer": tok.to_json(), "splits": splits}
        (out / "meta.json").write_text(json.dumps(meta))
        try:
            os.replace(out, final)
        except OSError:  # another process built it first
            shutil.rmtree(out, ignore_errors=True)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    shutil.rmtree(work, ignore_errors=True)


def _mk(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


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
