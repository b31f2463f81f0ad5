"""`qtk quantize`: weight-only int8 / int4 quantization of a checkpoint's linear layers by
round-to-nearest, GPTQ or AWQ-style scaling; measures fp32 vs the quantized model (dequantize on
the fly, and torch's dynamic int8 on CPU) on one protocol and writes a quantized checkpoint."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

from qtk import checkpoint
from qtk.compress import calib, common, measure, quant
from qtk.compress.awq import awq
from qtk.compress.gptq import gptq
from qtk.compress.qlinear import QuantLinear, dynamic_int8_available, layer_info, to_dynamic_int8
from qtk.errors import UsageError
from qtk.swap import swap_module

METHODS = ("rtn", "gptq", "awq")
FORMATS = ("safetensors", "onnx")  # a qtk checkpoint, or ONNX Runtime's quantizers (qtk.export.onnx)
STATS = {"gptq": ("hessian",), "awq": ("absmean",)}
PPL_SLACK_PCT = 0.5  # dynamic int8 becomes the CPU default only if its ppl is this close to dequant's


def _quantize_layer(lin: nn.Linear, spec: quant.QSpec, method: str, stats: calib.InputStats | None,
                    damp: float) -> tuple[QuantLinear, dict]:
    W = lin.weight.detach().float().cpu()
    act, extra = None, {}
    if method == "rtn":
        q, s, z = quant.rtn(W, spec)
    elif method == "gptq":
        q, s, z = gptq(W, stats.mean_hessian().cpu(), spec, damp)
    else:
        q, s, z, act, alpha = awq(W, stats.mean_abs().cpu(), stats.rows_sample().cpu(), spec)
        extra["alpha"] = alpha
    ql = QuantLinear(lin.in_features, lin.out_features, spec, lin.bias is not None, act is not None)
    ql.load_codes(quant.encode(q, s, z, spec), act, lin.bias.cpu() if lin.bias is not None else None)
    return ql.to(lin.weight.device), extra


def quantize_model(model: nn.Module, targets: dict[str, nn.Linear], spec: quant.QSpec, method: str,
                   seqs: torch.Tensor | None = None, damp: float = 0.01,
                   progress: Callable[[str], None] | None = None) -> dict[str, dict]:
    """Replace each target by a QuantLinear, in place; per-layer extras (AWQ's α) by name."""
    extras: dict[str, dict] = {}

    def process(group: dict[str, tuple[nn.Linear, calib.InputStats | None]]) -> None:
        for name, (lin, stats) in group.items():
            ql, extras[name] = _quantize_layer(lin, spec, method, stats, damp)
            swap_module(model, name, ql)

    if method == "rtn":
        process({n: (m, None) for n, m in targets.items()})
    else:
        calib.sequential(model, seqs, targets, STATS[method], process, progress=progress)
    return extras


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: expected {' or '.join(FORMATS)}")


def _pick_cpu_runtime(dequant: dict, dynamic: dict | None) -> str:
    if dynamic is None:
        return "dequant"
    if "decode_tokens_per_s" not in dequant:
        return "dequant"  # not timed
    faster = (dynamic["decode_tokens_per_s"] > dequant["decode_tokens_per_s"]
              and dynamic["prefill_tokens_per_s"] > dequant["prefill_tokens_per_s"])
    close = measure.delta_pct(dequant["ppl"], dynamic["ppl"]) <= PPL_SLACK_PCT
    return "dynamic-int8" if faster and close else "dequant"


def _sizes(targets: dict[str, nn.Linear], qmodel: nn.Module) -> dict:
    fp32 = sum(m.weight.numel() * 4 + (m.bias.numel() * 4 if m.bias is not None else 0) for m in targets.values())
    stored = sum(b.numel() * b.element_size() for n in targets for b in qmodel.get_submodule(n).buffers())
    return {"linear_fp32_bytes": fp32, "linear_quantized_bytes": stored, "linear_size_ratio": fp32 / max(1, stored)}


def _measure_all(variants: dict[str, nn.Module], proto: measure.Protocol, specials: set[int],
                 dev: torch.device, say: Callable[[str], None], rounds: int) -> tuple[dict[str, dict], str | None]:
    """Held-out metrics of every variant (plus torch dynamic int8 of the quantized model where it
    can run), then the speeds of all but the RTN reference, side by side."""
    why_not = dynamic_int8_available() or (None if dev.type == "cpu" else "torch's dynamic int8 is CPU-only")
    if why_not is None:
        variants["dynamic_int8"] = to_dynamic_int8(copy.deepcopy(variants["dequant"]))
    results = {}
    for name, m in variants.items():
        say(f"scoring {name}")
        results[name] = measure.held_out(m, proto, specials, dev)
    if rounds:
        say("timing")
        timed = measure.speeds({k: m for k, m in variants.items() if k != "rtn"}, dev, rounds=rounds)
        for name, timing in timed.items():
            results[name].update(timing)
    return results, why_not


def quantize(path: str | Path, bits: int, out: str | Path, *, group: int | None = None, zero_point: bool = False,
             method: str = "rtn", calib_n: int = 128, force: bool = False, eval_tokens: int = 32768,
             device: str = "auto", seed: int = 0, damp: float = 0.01, speed_rounds: int = 3,
             progress: Callable[[str], None] | None = None) -> dict:
    """Quantize, measure and save; returns the report (see the CLI for its rendering)."""

    if method not in METHODS:
        raise UsageError(f"--method {method!r}: expected one of {', '.join(METHODS)}")
    spec = quant.make_spec(bits, group, zero_point)
    ck, out, dev, model, data, proto = common.open_job(path, "quantize", out, force, device, eval_tokens)
    say = progress or (lambda s: None)
    targets, notes = common.linear_targets(model, include_head=False)
    if isinstance(getattr(model, "head", None), nn.Linear):
        notes.append("the LM head" + (" (tied to the token embedding)" if common.tied_head(model) else "")
                     + " stays fp32, as in GPTQ/AWQ")
    seqs = calib.calibration_batch(data.train, calib_n, ck.cfg.model.block_size, seed) if method != "rtn" else None

    say(f"quantizing {len(targets)} linear layers (int{bits}, {method})")
    variants = {"fp32": model, "dequant": copy.deepcopy(model)}
    qmodel = variants["dequant"]
    extras = quantize_model(qmodel, {n: qmodel.get_submodule(n) for n in targets}, spec, method, seqs, damp, progress)
    if method != "rtn":  # the round-to-nearest baseline the calibrated method must beat
        variants["rtn"] = copy.deepcopy(model)
        quantize_model(variants["rtn"], {n: variants["rtn"].get_submodule(n) for n in targets}, spec, "rtn")
    results, why_not = _measure_all(variants, proto, {ck.tokenizer.eot_id}, dev, say, speed_rounds)
    cpu_runtime = _pick_cpu_runtime(results["dequant"], results.get("dynamic_int8"))

    info = {"method": method, **spec.to_json(), "calib": calib_n if method != "rtn" else 0, "seed": seed,
            "layers": {n: {**layer_info(qmodel.get_submodule(n)), **extras[n]} for n in targets},
            "cpu_runtime": cpu_runtime, "source": str(ck.path)}
    meta = {**{k: v for k, v in ck.meta.items() if k != "quantization"}, "quantization": info}
    checkpoint.save(out, checkpoint.model_state(qmodel), ck.cfg, ck.tokenizer, meta)
    report = {"source": str(ck.path), "output": str(out), "method": method, **spec.to_json(),
              "group": spec.group or None, "calib_sequences": info["calib"],
              "size_before_bytes": common.file_size(ck.path), "size_after_bytes": common.file_size(out),
              **_sizes(targets, qmodel), "protocol": proto.text, "device": str(dev),
              "cpu_runtime": cpu_runtime, "notes": notes}
    return _add_figures(report, results, why_not)


def _add_figures(report: dict, results: dict[str, dict], why_not: str | None) -> dict:
    fp32 = results["fp32"]

    def vs_fp32(m: dict) -> dict:
        out = {**m, "ppl_delta_pct": measure.delta_pct(fp32["ppl"], m["ppl"]),
               "bpb_delta_pct": measure.delta_pct(fp32["bpb"], m["bpb"])}
        if "prefill_tokens_per_s" in m and "prefill_tokens_per_s" in fp32:
            out["prefill_speedup"] = m["prefill_tokens_per_s"] / fp32["prefill_tokens_per_s"]
            out["decode_speedup"] = m["decode_tokens_per_s"] / fp32["decode_tokens_per_s"]
        return out

    report["file_size_ratio"] = report["size_before_bytes"] / max(1, report["size_after_bytes"])
    report["fp32"] = fp32
    report["dequant"] = vs_fp32(results["dequant"])
    dyn = results.get("dynamic_int8")
    report["dynamic_int8"] = vs_fp32(dyn) if dyn else {"available": False, "reason": why_not}
    if "rtn" in results:
        report["rtn"] = vs_fp32(results["rtn"])
        report["ppl_gain_over_rtn_pct"] = report["rtn"]["ppl_delta_pct"] - report["dequant"]["ppl_delta_pct"]
    return report
