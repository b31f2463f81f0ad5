"""A corpus memory beside a checkpoint: the (key, value) items a model's kNN layer produces while
reading a text, saved once (`build`, `qtk build-memory`) and searched afterwards by every stream
row next to the row's own memory (`attach`; `qtk eval --memory`, `qtk generate --memory`).

The text is read as streamed evaluation reads it (segments of the model's context, one row, the
row's memory carried across and cleared where a document starts) and every item the layer adds is
also kept in the corpus memory, whatever document it came from. The file (qtk.memory.store)
records the checkpoint's sha256: a memory built by other weights is refused on load."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import torch

from qtk.errors import QtkError, UsageError
from qtk.memory import store
from qtk.memory.index import Memory
from qtk.paths import sha256_file


def knn_layer(model: torch.nn.Module, what: str):
    """The model's one kNN memory layer (a corpus memory holds one layer's items)."""
    layers = [m for b in model.blocks for _, m in b.parts() if hasattr(m, "corpus")]
    if not layers:
        raise UsageError(f"{what}: this model has no kNN memory layer (model.memory = knn)")
    if len(layers) > 1:
        raise UsageError(f"{what}: this model has {len(layers)} kNN memory layers; a corpus memory holds one's items")
    return layers[0]


@torch.no_grad()
def build(model: torch.nn.Module, tokens, eot_id: int, block_size: int, device: torch.device,
          progress: Callable[[int, int], None] | None = None) -> Memory:
    """Read `tokens` (a TokenStream) in segments; return every item the kNN layer added."""
    layer = knn_layer(model, "build-memory")
    was_training = model.training
    model.eval()
    stream = model.new_stream(1, device)
    st = stream.get(layer.layer, "memory")
    # every item is kept: the layer's capacity bounds a stream row's memory, not a corpus memory
    st.sink = Memory(layer.head_dim, layer.head_dim, dataclasses.replace(layer.s, capacity=0), device,
                     key="model.knn")
    n = len(tokens)
    steps = -(-n // block_size)
    for i, lo in enumerate(range(0, n, block_size)):
        x = torch.from_numpy(tokens.get(lo, min(block_size, n - lo)))[None].to(device)
        model(x, doc_start=x == eot_id, stream=stream)
        if progress:
            progress(i + 1, steps)
    model.train(was_training)
    return st.sink


def attach(model: torch.nn.Module, path: str | Path, checkpoint_path: str | Path, settings=None) -> Memory:
    """Load the corpus memory at `path` for the model of `checkpoint_path` and make every stream
    row of its kNN layer search it; refused (one line) when built by other weights or for
    another key size."""
    layer = knn_layer(model, "--memory")
    mem = store.load(path, sha256_file(checkpoint_path), settings or layer.s)
    if mem.key_dim != layer.head_dim or mem.value_dim != layer.head_dim:
        raise QtkError(f"{path}: memory items are {mem.key_dim}/{mem.value_dim}-dimensional, this model's kNN "
                       f"layer uses {layer.head_dim}")
    layer.corpus = mem
    return mem
