"""Saving and loading a memory beside a checkpoint: one safetensors file holds the tensors (keys,
values, positions, doc ids) and, in its header, JSON metadata (format, build settings, hnswlib
version, the sha256 of the checkpoint whose model produced the keys, and of the graph file).

An hnsw memory also writes its graph (`<name>.hnsw`). hnswlib's loader trusts its file (no magic,
no version, no checksum), so the graph is read only when its sha256 matches the recorded one and
it was built with the same settings and hnswlib version; otherwise it is rebuilt from the stored
keys. A memory whose recorded checkpoint hash differs from the model's is refused: its keys came
from other weights. Nothing is unpickled.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from qtk.checkpoint import atomic_write
from qtk.errors import QtkError
from qtk.memory.index import Memory
from qtk.memory.settings import IndexSettings
from qtk.paths import sha256_file

FORMAT = "qtk-memory-v1"
BUILD_KEYS = ("M", "ef_construction", "seed")  # what the graph's shape depends on
TENSORS = ("keys", "values", "positions", "doc_ids")



def graph_path(path: str | Path) -> Path:
    return Path(path).with_suffix(".hnsw")


def save(memory: Memory, path: str | Path, model_hash: str) -> Path:
    """Write `path` (safetensors) and, for an hnsw memory, its graph; both atomically."""
    from qtk.memory import hnsw

    path = Path(path)
    meta = {"format": FORMAT, "model_sha256": model_hash, "count": memory.count,
            "key_dim": memory.key_dim, "value_dim": memory.value_dim,
            "settings": dataclasses.asdict(memory.s), "backend": memory.backend,
            "hnswlib": hnsw.version() if memory.index is not None else None, "graph_sha256": None}
    if memory.index is not None:
        digest = []

        def write_graph(tmp: str) -> None:
            memory.index.save(tmp)
            digest.append(sha256_file(tmp))

        atomic_write(graph_path(path), write_graph)
        meta["graph_sha256"] = digest[0]
    tensors = {"keys": memory.keys, "values": memory.values, "positions": memory.positions,
               "doc_ids": memory.doc_ids}
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"qtk": json.dumps(meta)}))
    return path


def read(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(metadata, tensors) of a memory file, checked for shape agreement."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (OSError, SafetensorError) as e:
        raise QtkError(f"{path}: unreadable memory file ({e})") from None
    try:
        meta = json.loads(header.get("qtk", ""))
    except ValueError:
        raise QtkError(f"{path}: not a qtk memory file (no metadata)") from None
    found = meta.get("format") if isinstance(meta, dict) else None
    if found != FORMAT:
        raise QtkError(f"{path}: not a qtk memory file (format {found!r})")
    lacking = [k for k in ("model_sha256", "count", "key_dim", "value_dim", "settings", "backend") if k not in meta]
    if lacking:
        raise QtkError(f"{path}: memory metadata lacks {lacking}")
    missing = [k for k in TENSORS if k not in tensors]
    if missing:
        raise QtkError(f"{path}: memory file lacks tensors {missing}")
    n = meta["count"]
    want = {"keys": (n, meta["key_dim"]), "values": (n, meta["value_dim"]), "positions": (n,), "doc_ids": (n,)}
    for name, shape in want.items():
        if tuple(tensors[name].shape) != shape:
            raise QtkError(f"{path}: {name} has shape {tuple(tensors[name].shape)}, metadata says {shape}")
    return meta, tensors


def load(path: str | Path, model_hash: str, settings: IndexSettings | None = None,
         device: torch.device | str = "cpu") -> Memory:
    """The memory saved at `path`, refused unless it was built by the model with `model_hash`.
    `settings` may change search-time settings (ef, threads); the graph is reused only when the
    build settings and hnswlib version are unchanged. `memory.graph_source` says what happened."""
    path = Path(path)
    meta, t = read(path)
    if meta["model_sha256"] != model_hash:
        raise QtkError(f"{path}: memory was built by other weights (checkpoint sha256 "
                       f"{meta['model_sha256'][:12]}..., this model {model_hash[:12]}...): rebuild it")
    saved = IndexSettings(**{k: v for k, v in meta["settings"].items() if k in IndexSettings.__dataclass_fields__})
    s = settings or saved
    mem = Memory(meta["key_dim"], meta["value_dim"], dataclasses.replace(s, backend="exact"), device)
    mem.add(t["keys"], t["values"], t["positions"], t["doc_ids"])
    mem.added = int(t["positions"].max()) + 1 if meta["count"] else 0
    mem.s = s
    mem.graph_source = "none"
    if s.backend == "hnsw" or mem._wants_graph():
        mem.graph_source = _attach_graph(mem, path, meta, saved)
    return mem


def _attach_graph(mem: Memory, path: Path, meta: dict, saved: IndexSettings) -> str:
    """Load the cached graph when it is provably the one saved, else rebuild from the keys."""
    from qtk.memory import hnsw

    g = graph_path(path)
    reason = None
    if not meta.get("graph_sha256"):
        reason = "no graph recorded"
    elif not g.is_file():
        reason = f"{g.name} missing"
    elif sha256_file(g) != meta["graph_sha256"]:
        reason = f"{g.name} does not match its recorded sha256"
    elif meta.get("hnswlib") != hnsw.version():
        reason = f"built by hnswlib {meta.get('hnswlib')}, this is {hnsw.version()}"
    elif any(getattr(saved, k) != getattr(mem.s, k) for k in BUILD_KEYS):
        reason = "build settings changed"
    if reason is None:
        mem.index = hnsw.HNSWIndex.load(str(g), mem.s, mem._numpy(mem.keys))
        return "loaded"
    mem._build_index()
    return f"rebuilt ({reason})"
