"""Write a corpus memory beside a checkpoint: read a text through the model's kNN layer (segment
after segment, as `qtk eval` reads it) and save every (key, value) item it produces (safetensors,
with the checkpoint's sha256 and, for an hnsw memory, its graph and the graph's sha256). Use it
with `qtk eval --memory FILE` and `qtk generate --memory FILE`; a memory built by other weights
is refused there."""

from pathlib import Path
from typing import List, Optional

import typer

from qtk.cli import common


def command(
    path: Path = typer.Argument(..., help="Checkpoint file or run directory of a model with a kNN layer."),
    data: str = typer.Option(..., "--data", help="Text to remember: shakespeare | pydoc | text file/dir (all of "
                                                 "it) | token-shard dir (its val split)."),
    output: Path = common.output_option(help="Memory file to write (.safetensors; an hnsw memory also writes "
                                             "FILE.hnsw)."),
    force: bool = common.force_option(),
    sets: Optional[List[str]] = common.sets_option("Index settings of the memory: model.knn.backend=hnsw, "
                                                   "model.knn.ef=256, ..."),
    device: str = common.device_option(),
    config_file: Optional[Path] = common.config_option(common.CONFIG_FOR_STATE_DICT),
    json_out: bool = common.json_option("Print {path, items, backend, graph} as JSON."),
) -> None:
    from qtk.errors import UsageError

    if output.exists() and not force:
        raise UsageError(f"{output} exists (use --force to overwrite it)")
    from qtk.data.prepare import eval_stream
    from qtk.eval import overrides
    from qtk.load import load_model
    from qtk.memory import corpus, store
    from qtk.paths import sha256_file

    pairs = common.parse_sets(sets)
    if any(not k.startswith("model.knn.") for k, _ in pairs):
        raise UsageError("build-memory: --set takes model.knn.* index settings only")
    ck, model, dev = load_model(str(path), config_file=config_file, device=device)
    index = overrides(ck.cfg, pairs)
    layer = corpus.knn_layer(model, "build-memory")
    if index:
        import dataclasses

        layer.s = dataclasses.replace(layer.s, **index)
    tokens, source = eval_stream(data, ck.cfg.data, ck.tokenizer)
    mem = corpus.build(model, tokens, ck.tokenizer.eot_id, ck.cfg.model.block_size, dev)
    written = store.save(mem, output, sha256_file(ck.path))
    out = {"path": str(written), "items": len(mem), "backend": mem.backend, "data": source,
           "graph": str(store.graph_path(written)) if mem.index is not None else None}
    if json_out:
        common.print_json(out)
    else:
        common.err_console().print(f"memory: {out['items']:,} items of {source} ({out['backend']}) -> {written}")
