"""`qtk merge`: an adapter checkpoint folded into its base, written as the plain checkpoint
(each adapted layer W + (alpha / r) B A) that compress, quantize and export-onnx take."""

from __future__ import annotations

from pathlib import Path

import torch

from qtk import checkpoint
from qtk.compress.common import check_output
from qtk.compress.qlinear import QuantLinear, layer_info
from qtk.errors import UsageError
from qtk.finetune import ADAPTER_KEY
from qtk.finetune.lora import merge
from qtk.load import build_model


def merge_checkpoint(path: str | Path, out: str | Path, force: bool = False) -> dict:
    """Write base + adapters as a plain checkpoint; returns what was written."""
    ck = checkpoint.load(path)
    if not ck.meta.get(ADAPTER_KEY):
        raise UsageError(f"{ck.path} is not a LoRA adapter checkpoint (nothing to merge)")
    dest = check_output(out, force, ck.path)
    model = build_model(ck, "cpu", quant_runtime="dequant")
    names = merge(model)
    meta = {k: v for k, v in ck.meta.items() if k != ADAPTER_KEY}
    meta["merged_from"] = {"adapter": str(ck.path.resolve()), **{k: ck.meta[ADAPTER_KEY][k] for k in
                                                                 ("base", "base_sha256", "r", "alpha")}}
    quantized = {n: m for n, m in model.named_modules() if isinstance(m, QuantLinear)}
    if "quantization" in meta:  # adapted layers became fp32; the others stay quantized
        if quantized:
            meta["quantization"] = {**meta["quantization"], "layers": {
                n: {**meta["quantization"]["layers"].get(n, {}), **layer_info(m)} for n, m in quantized.items()}}
        else:
            meta.pop("quantization")
    with torch.no_grad():
        state = checkpoint.model_state(model)
    checkpoint.save(dest, state, ck.cfg, ck.tokenizer, meta)
    return {"adapter": str(ck.path), "output": str(dest), "merged_layers": len(names),
            "base": ck.meta[ADAPTER_KEY]["base"], "still_quantized": len(quantized)}
