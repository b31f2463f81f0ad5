"""Adapter-only checkpoints: the `lora_*` tensors of a LoRA run, with the base checkpoint's
absolute path and sha256 in the metadata (`adapter`). Loading one reads the base, refuses it when
its hash differs, and lays the adapter tensors over the base's (`overlay`); the loader's
`adapter` converter then wraps the named layers (qtk.finetune.merge folds them into the base)."""

from __future__ import annotations

from pathlib import Path

from qtk import checkpoint
from qtk.errors import QtkError, UsageError
from qtk.finetune import ADAPTER_KEY
from qtk.paths import sha256_file



def base_record(path: Path) -> dict:
    return {"base": str(Path(path).resolve()), "base_sha256": sha256_file(path)}


def open_base(info: dict, adapter_path: Path) -> checkpoint.Checkpoint:
    """The base checkpoint an adapter was trained on, checked against its recorded hash."""
    base = Path(info["base"])
    if not base.is_file():
        raise QtkError(f"{adapter_path}: its base checkpoint {base} is missing (the adapters only work on it)")
    digest = sha256_file(base)
    if digest != info["base_sha256"]:
        raise QtkError(f"{adapter_path}: base checkpoint {base} has sha256 {digest[:12]}..., not the "
                       f"{info['base_sha256'][:12]}... the adapters were trained on")
    return checkpoint.load(base)


def overlay(ck: checkpoint.Checkpoint) -> checkpoint.Checkpoint:
    """An adapter checkpoint as one checkpoint: the base's weights and metadata (e.g. its
    quantization) plus the adapters; the adapter run's config and tokenizer (chat tokens)."""
    info = ck.meta[ADAPTER_KEY]
    base = open_base(info, ck.path)
    rows = info.get("vocab", {}).get("base", ck.cfg.model.vocab_size)  # the base's, before the run added tokens
    if base.cfg.model.vocab_size != rows:
        raise QtkError(f"{ck.path}: its base {base.path} has another vocabulary size")
    meta = {**base.meta, **{k: v for k, v in ck.meta.items() if k != "quantization"}}
    return checkpoint.Checkpoint(ck.path, ck.cfg, ck.tokenizer, {**base.state, **ck.state}, meta)
