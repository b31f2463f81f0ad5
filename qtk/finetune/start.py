"""A training run that starts from trained weights (`finetune.init_from`): the base checkpoint's
model settings (a run that asks for others is refused, naming the key) and tokenizer, then either
every weight trains (method full) or only LoRA adapters over the frozen base (method lora; over a
`qtk quantize` output this is QLoRA: the quantized codes stay frozen and bit-identical).
Checkpoints of a LoRA run hold the adapters only (qtk.finetune.adapter)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from qtk import checkpoint
from qtk import config as qconfig
from qtk.compress.qlinear import QuantLinear
from qtk.errors import QtkError, UsageError
from qtk.data.tokenizer import Tokenizer
from qtk.finetune import ADAPTER_KEY, adapter, lora, refuse_adapter, vocab
from qtk.model.gpt import padded_vocab


@dataclass
class Base:
    ck: checkpoint.Checkpoint
    record: dict  # base path + sha256
    notes: list[str] = field(default_factory=list)


def base_config(path: str | Path) -> dict:
    """The base checkpoint's resolved config as a dict to compose a fine-tuning run's config on
    (its finetune section reset: a run says how it fine-tunes)."""
    cfg = checkpoint.load(path).cfg
    cfg.finetune = qconfig.FinetuneConfig()
    return qconfig.to_dict(cfg)


def check_model_settings(run: qconfig.ModelConfig, base: qconfig.ModelConfig, path: Path) -> None:
    """Every model setting as the base's; the vocabulary may only grow (checked by vocab_size)."""
    want, have = qconfig.to_dict(run), qconfig.to_dict(base)
    for key in sorted(set(want) | set(have)):
        if key == "vocab_size" and want.get(key) >= have.get(key):
            continue
        if want.get(key) != have.get(key):
            raise UsageError(f"model.{key}: the run asks for {want.get(key)!r} but --init-from {path} has "
                             f"{have.get(key)!r} (model settings come from the checkpoint)")


def open_base(cfg: qconfig.RunConfig) -> Base:
    """Read and check the base of a fine-tuning run; records its absolute path in cfg."""
    ft = cfg.finetune
    path = checkpoint.resolve(ft.init_from)
    ck = checkpoint.load(path)
    refuse_adapter(ck.meta, ck.path, "--init-from")
    check_model_settings(cfg.model, ck.cfg.model, ck.path)
    if ck.meta.get("quantization") and ft.method != "lora":
        raise UsageError(f"--init-from {ck.path} is quantized: its weights cannot train; fine-tune it with "
                         "adapters (--set finetune.method=lora, QLoRA)")
    ft.init_from = str(ck.path.resolve())
    return Base(ck, adapter.base_record(ck.path))


def vocab_size(base: Base, cfg: qconfig.RunConfig, tok: Tokenizer) -> int:
    """The run's vocabulary: the base's, or grown (padded to 64) when the run's tokenizer has more
    ids than the base has rows (the chat template's tokens on a BPE base); anything else is refused."""
    have, asked = base.ck.cfg.model.vocab_size, cfg.model.vocab_size
    need = have if tok.vocab_size <= have else padded_vocab(tok.vocab_size)
    if asked not in (have, need):
        raise UsageError(f"model.vocab_size: the run asks for {asked} but --init-from {base.ck.path} has {have}"
                         + (f" (the run's tokens need {need})" if need != have else ""))
    if need != have:
        base.notes.append(f"the tokenizer has {tok.vocab_size - base.ck.tokenizer.vocab_size} token(s) more than "
                          f"the base ({', '.join(added_tokens(base.ck.tokenizer, tok))}): the embedding grows from "
                          f"{have} to {need} rows, new ones at the mean of the base's")
    return need


def added_tokens(old: Tokenizer, new: Tokenizer) -> list[str]:
    return sorted(set(getattr(new, "special_ids", {})) - set(getattr(old, "special_ids", {})))


def build(base: Base, cfg: qconfig.RunConfig, device: torch.device) -> tuple[nn.Module, dict]:
    """The model to train and the metadata its checkpoints carry."""
    from qtk.load import build_model

    model = build_model(base.ck, device, quant_runtime="dequant").train()
    lo = cfg.finetune.lora
    size, have = cfg.model.vocab_size, base.ck.cfg.model.vocab_size
    grown = {"base": have, "size": size, "tokens": base.ck.tokenizer.vocab_size} if size > have else None
    model.cfg = dataclasses.replace(model.cfg, vocab_size=size)
    if cfg.finetune.method == "full":
        if grown:
            vocab.grow(model, size, grown["tokens"])
        return model, {"init_from": {**base.record, **({"vocab": grown} if grown else {})}}
    info = lora.apply(model, lo.r, lo.alpha, lo.dropout, list(lo.targets))
    if grown:
        vocab.extend(model, grown, init=True)
        info["vocab"] = grown
    meta = {ADAPTER_KEY: {**base.record, **info}, "trainable_params": lora.trainable(model)}
    frozen = frozen_bytes(model)
    if frozen["quantized"]:
        meta["frozen_linear_bytes"] = frozen
        base.notes.append(f"QLoRA: the frozen linear weights take {frozen['quantized'] / 2**20:.2f} MiB quantized, "
                          f"{frozen['fp32'] / 2**20:.2f} MiB as fp32 ({frozen['ratio']:.1f}x less)")
    return model, meta


def frozen_bytes(model: nn.Module) -> dict:
    """Memory of the adapted layers' frozen weights: as stored, and as fp32 would take."""
    stored = fp32 = 0
    quantized = False
    for m in model.modules():
        if isinstance(m, lora.LoRALinear):
            fp32 += m.in_features * m.out_features * 4
            if isinstance(m.base, QuantLinear):
                quantized = True
                stored += sum(b.numel() * b.element_size() for b in m.base.buffers())
            else:
                stored += m.base.weight.numel() * m.base.weight.element_size()
    return {"fp32": fp32, "quantized": stored if quantized else 0, "ratio": fp32 / max(1, stored)}


def run_state(model: nn.Module, meta: dict) -> dict[str, torch.Tensor]:
    """What a checkpoint of this run stores: every weight, or the adapters only."""
    state = checkpoint.model_state(model)
    return lora.adapter_state(state) if ADAPTER_KEY in meta else state


def restore(model: nn.Module, saved: checkpoint.Checkpoint, meta: dict) -> None:
    """Load a run's own checkpoint back (resume); adapters must come from the same base."""
    if ADAPTER_KEY not in meta:
        checkpoint.load_weights(model, saved.state, saved.path)
        return
    was = saved.meta.get(ADAPTER_KEY, {}).get("base_sha256")
    if was != meta[ADAPTER_KEY]["base_sha256"]:
        raise QtkError(f"{saved.path}: its adapters were trained on another base than {meta[ADAPTER_KEY]['base']}")
    want = lora.adapter_state(checkpoint.model_state(model))
    if set(saved.state) != set(want):
        raise QtkError(f"{saved.path}: adapter tensors do not match the run's layers")
    model.load_state_dict(saved.state, strict=False)
