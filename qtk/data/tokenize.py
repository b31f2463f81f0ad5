"""Parallel, resumable tokenization into token shards.

The documents of a split are cut, in order, into chunks of about CHUNK_BYTES; each chunk is encoded
by a worker process (spawned: the parent may hold torch's threads) into its own file in a work
directory named after the shard directory's key. A chunk file appears only whole (written aside,
then renamed), so a build that is interrupted and started again skips the chunks already on disk.
The chunks are then concatenated into shards exactly as one process would have written them.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import deque
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from qtk.data.tokenizer import Tokenizer, from_json

CHUNK_BYTES = 1 << 22  # 4 MiB of text per task: large enough to amortise the pipe, small enough to resume
MAX_WORKERS = 8
Progress = Callable[[int, int], None]

_worker_tok: Tokenizer | None = None


def default_workers(n: int = 0) -> int:
    if n:
        return n
    return max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def encode_docs(tok: Tokenizer, docs: list[bytes], dtype: str) -> np.ndarray:
    """<|endoftext|> before every document, then its tokens: the layout of every shard."""
    parts = [np.asarray([tok.eot_id] + tok.encode(d), dtype=np.int64) for d in docs]
    return (np.concatenate(parts) if parts else np.empty(0, np.int64)).astype(dtype)


def _init(tok_json: dict) -> None:
    global _worker_tok
    _worker_tok = from_json(tok_json)


def _encode_to(path: str, docs: list[bytes], dtype: str) -> int:
    assert _worker_tok is not None
    return _write_chunk(Path(path), encode_docs(_worker_tok, docs, dtype))


def _write_chunk(path: Path, ids: np.ndarray) -> int:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    ids.tofile(tmp)
    os.replace(tmp, path)
    return len(ids)


def _chunks(docs: Iterable[bytes]) -> Iterator[list[bytes]]:
    chunk, size = [], 0
    for d in docs:
        chunk.append(d)
        size += len(d)
        if size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def encode_split(docs: Iterable[bytes], tok: Tokenizer, work: Path, split: str, dtype: str, workers: int,
                 progress: Progress | None, done: list[int], total: int) -> tuple[list[Path], int]:
    """Chunk files of one split (reusing those already in `work`) and the text's UTF-8 byte count."""
    work.mkdir(parents=True, exist_ok=True)
    paths, n_bytes = [], 0
    pool = mp.get_context("spawn").Pool(workers, _init, (tok.to_json(),)) if workers > 1 else None
    pending: deque = deque()

    def report(size: int) -> None:
        done[0] += size
        if progress:
            progress(done[0], total)

    try:
        for i, chunk in enumerate(_chunks(docs)):
            path = work / f"{split}.{i:06d}.bin"
            size = sum(len(d) for d in chunk)
            paths.append(path)
            n_bytes += size
            if path.is_file():  # encoded before an interruption
                report(size)
            elif pool is None:
                _write_chunk(path, encode_docs(tok, chunk, dtype))
                report(size)
            else:
                pending.append((pool.apply_async(_encode_to, (str(path), chunk, dtype)), size))
            while pending and (len(pending) >= 2 * workers or pending[0][0].ready()):
                result, size = pending.popleft()
                result.get()
                report(size)
        while pending:
            result, size = pending.popleft()
            result.get()
            report(size)
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    return paths, n_bytes


def concat_to_shards(chunks: list[Path], out: Path, split: str, dtype: str, shard_tokens: int) -> tuple[list[str], int]:
    """Cut the chunk files' tokens into {split}_NNN.bin files of shard_tokens each (the last shorter)."""
    names: list[str] = []
    n_tokens, room, f = 0, 0, None
    try:
        for path in chunks:
            ids = np.fromfile(path, dtype=dtype)
            n_tokens += len(ids)
            while len(ids):
                if room == 0:
                    if f is not None:
                        f.close()
                    names.append(f"{split}_{len(names):03d}.bin")
                    f, room = open(out / names[-1], "wb"), shard_tokens
                take = min(room, len(ids))
                ids[:take].tofile(f)
                ids, room = ids[take:], room - take
    finally:
        if f is not None:
            f.close()
    return names, n_tokens
