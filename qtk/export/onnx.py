"""`qtk export-onnx` and `qtk quantize --format onnx`: checkpoint -> ONNX decoder (Optimum
naming, optional past inputs) -> verified with onnxruntime -> optionally weight-quantized by
onnxruntime (dynamic int8, MatMulNBits int4) -> moved into place beside its tokenizer and config.

An fp32 export must pass parity (max |Δlogits| <= tolerance and a token-for-token greedy match);
otherwise nothing is written and the report says why (`passed` False). A quantized model cannot
match fp32 logits to 1e-4, so its deltas, greedy agreement, held-out perplexity and speed are
reported, not judged; the fp32 graph it is made from must still pass.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable

import torch

from qtk import __version__
from qtk.errors import QtkError, UsageError
from qtk.export import files, trace, verify
from qtk.export.quantize import METHODS, check_block_size, quantize
from qtk.export.runtime import OnnxLM
from qtk.finetune import refuse_adapter
from qtk.load import load_model

TOLERANCE = 1e-4


def default_output(quant: str | None) -> Path:
    return Path(f"model.{quant}.onnx" if quant else "model.onnx")


def export_onnx(path: str | Path, out: str | Path | None = None, *, with_past: bool = False,
                opset: int = trace.DEFAULT_OPSET, quant: str | None = None, group: int = 128,
                force: bool = False, tolerance: float = TOLERANCE, config_file: str | Path | None = None,
                eval_tokens: int = 0, data: str | None = None, measure_speed: bool = True,
                notice: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Export, verify and (optionally) quantize; returns the report. Nothing is written unless
    the fp32 parity check passes. group: input columns per int4 scale (MatMulNBits' block size)."""
    say = notice or (lambda _msg: None)
    out = Path(out) if out else default_output(quant)
    _check_options(out, opset, quant, group, force, tolerance)
    # the fp32 reference: a quantized checkpoint's layers as plain Linears with the dequantized
    # weights, so the graph computes what the quantized torch model computes, in fp32
    ck, model, _ = load_model(path, config_file=config_file, device="cpu", quant_runtime="dense")
    refuse_adapter(ck.meta, ck.path, "export-onnx")
    beside = files.beside_files(ck.cfg, ck.tokenizer)
    files.check_beside(out, beside, force)
    stream = _eval_stream(ck, data, eval_tokens)  # fails early, before minutes of export
    external = _param_bytes(model) > files.EXTERNAL_DATA_BYTES
    report: dict[str, Any] = {"path": str(out), "source": str(ck.path), "with_past": with_past, "opset": opset,
                              "quantization": quant, "params": model.num_params(), "written": False}
    if ck.meta.get("quantization"):
        q = ck.meta["quantization"]
        report["source_quantization"] = {k: q.get(k) for k in ("bits", "group", "zero_point", "method")}
    with files.staging(out) as tmp:
        fp32 = tmp / (out.name if quant is None else f"fp32-{out.name}")
        say(f"exporting {ck.path.name} ({'with' if with_past else 'without'} past, opset {opset})")
        t0 = time.perf_counter()
        wrapper = trace.export(model, with_past, fp32, opset, ck.tokenizer.vocab_size, external)
        report["export_s"] = time.perf_counter() - t0
        report["padding_aware"] = wrapper.padding_aware
        say("verifying with onnxruntime")
        lm = OnnxLM(fp32, device="cpu")
        report.update(inputs=[i.name for i in lm.session.get_inputs()],
                      outputs=[o.name for o in lm.session.get_outputs()])
        report["parity"] = _parity(model, lm, ck.tokenizer, tolerance)
        report["passed"] = report["parity"]["passed"]
        if not report["passed"]:
            return report  # the staging directory goes with it: nothing half-verified is left
        final, lms = fp32, {"onnx fp32": lm}
        if quant:
            say(f"quantizing ({quant}{f', group {group}' if quant == 'int4' else ''})")
            final = tmp / out.name
            lms[f"onnx {quant}"] = _quantize(fp32, final, quant, group, external, model, ck.tokenizer, report)
        if measure_speed:
            say("timing prefill and decode")
            report["speed"] = verify.speed(model, {name: m.path for name, m in lms.items()}, ck.tokenizer.vocab_size)
        if stream is not None:
            say(f"scoring {eval_tokens:,} held-out tokens")
            report["eval"] = _evaluate(model, lms, stream, ck, eval_tokens)
        if quant:
            _drop(fp32)
        _stamp(final, ck, with_past, quant, report)
        report["size_bytes"] = files.size_bytes(final)
        report["files"] = [str(p) for p in files.publish(tmp, out, beside)]
        report["written"] = True
    return report


def export_quantized(ckpt_path: str | Path, out: str | Path, bits: int, *, group: int | None = None,
                     zero_point: bool = False, method: str = "rtn", with_past: bool = True,
                     **kwargs: Any) -> dict[str, Any]:
    """`qtk quantize --format onnx`: ONNX Runtime's own symmetric round-to-nearest quantizers on
    an exported, verified fp32 graph; bits 8 -> dynamic int8, bits 4 -> MatMulNBits with `group`
    input columns per scale (default 128). Other keywords as for export_onnx."""
    if Path(out).suffix != ".onnx":
        raise UsageError(f"--format onnx writes an .onnx file; got -o {out}")
    if method != "rtn" or zero_point:
        raise UsageError("--format onnx quantizes with ONNX Runtime's symmetric round-to-nearest; "
                         "--method gptq|awq and --zero-point apply to --format safetensors")
    if bits == 8 and group is not None:
        raise UsageError("--group applies to --bits 4 (int8 is per output channel)")
    if bits not in (4, 8):
        raise UsageError(f"--bits {bits}: ONNX Runtime quantization does 8 (dynamic int8) or 4 (MatMulNBits)")
    return export_onnx(ckpt_path, out, with_past=with_past, quant=f"int{bits}", group=group or 128, **kwargs)


def _check_options(out: Path, opset: int, quant: str | None, group: int, force: bool, tolerance: float) -> None:
    files.check_output(out, force)
    trace.check_opset(opset)
    if quant is not None and quant not in METHODS:
        raise UsageError(f"unknown quantization {quant!r} (known: {', '.join(METHODS)})")
    if quant == "int4":
        check_block_size(group)
    if not tolerance > 0:
        raise UsageError(f"--tolerance must be > 0, got {tolerance}")


def _param_bytes(model: torch.nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def _parity(model: torch.nn.Module, lm: OnnxLM, tok, tolerance: float) -> dict[str, Any]:
    try:
        rows = verify.logits_parity(model, lm, tok.vocab_size)
        greedy = verify.greedy_match(model, lm, tok)
    except Exception as e:  # onnxruntime's own error types: the graph is wrong for some shape
        if isinstance(e, QtkError):
            raise
        names = trace.unverified(model)
        hint = f" (the model uses {', '.join(names)}, not verified for ONNX export)" if names else ""
        reason = " ".join(str(e).split())[:300]
        raise QtkError(f"the exported graph fails in onnxruntime{hint}: {reason}") from None
    delta = verify.max_delta(rows)
    return {"max_abs_logits_delta": delta, "tolerance": tolerance, "shapes": rows, "greedy": greedy,
            "unverified_components": trace.unverified(model),
            "passed": delta <= tolerance and greedy["identical"]}


def _quantize(fp32: Path, dst: Path, quant: str, group: int, external: bool, model: torch.nn.Module, tok,
              report: dict[str, Any]) -> OnnxLM:
    """Quantize, then measure (not judge) how far it moved from torch fp32."""
    quantize(fp32, dst, quant, group, external)
    lm = OnnxLM(dst, device="cpu")
    rows = verify.logits_parity(model, lm, tok.vocab_size)
    report["quantized"] = {"max_abs_logits_delta": verify.max_delta(rows), "shapes": rows,
                           "greedy": verify.greedy_match(model, lm, tok)}
    if quant == "int4":
        report["quantized"]["block_size"] = group
    report["size_fp32_bytes"] = files.size_bytes(fp32)
    return lm


def _drop(model_path: Path) -> None:
    model_path.unlink()
    files.data_path(model_path).unlink(missing_ok=True)


def _stamp(path: Path, ck, with_past: bool, quant: str | None, report: dict[str, Any]) -> None:
    """Provenance in the model's metadata_props (what any ONNX viewer shows)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    props = {"qtk.version": __version__, "qtk.source": ck.path.name, "qtk.with_past": str(with_past).lower(),
             "qtk.quantization": quant or "none", "qtk.padding_aware": str(report["padding_aware"]).lower(),
             "qtk.max_abs_logits_delta": f"{report['parity']['max_abs_logits_delta']:.3g}"}
    onnx.helper.set_model_props(model, {**{p.key: p.value for p in model.metadata_props}, **props})
    onnx.save(model, str(path))


def _eval_stream(ck, data: str | None, eval_tokens: int):
    if eval_tokens <= 0:
        return None
    from qtk.data.prepare import eval_stream

    return eval_stream(data, ck.cfg.data, ck.tokenizer)  # (stream, description)


def _evaluate(model: torch.nn.Module, lms: dict[str, OnnxLM], held_out, ck, eval_tokens: int) -> dict[str, Any]:
    """Held-out loss/ppl/bpb of torch and each ONNX model on the same spaced windows."""
    from qtk.eval import evaluate

    stream, source = held_out
    kw = {"block_size": ck.cfg.model.block_size, "max_tokens": eval_tokens, "batch_size": 8}
    rows = {"torch": evaluate(model, stream, {ck.tokenizer.eot_id}, **kw)}
    for name, lm in lms.items():
        rows[name] = evaluate(lm, stream, {ck.tokenizer.eot_id}, **kw)
    keep = ("loss", "ppl", "bpb", "top1", "tokens")
    out = {name: {k: r[k] for k in keep} for name, r in rows.items()}
    base = out["torch"]["ppl"]
    for row in out.values():
        row["ppl_delta_pct"] = 100.0 * (row["ppl"] / base - 1.0) if math.isfinite(base) else float("nan")
    return {"data": source, "runs": out}
