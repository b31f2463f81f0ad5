"""torch.onnx.export of the OnnxDecoder with the dynamo exporter (torch.export + onnxscript).

Why dynamo and not the legacy TorchScript exporter (`dynamo=False`): the legacy one has no
symbolic for aten::rms_norm (every qtk block uses nn.RMSNorm) at any opset, and its traced sizes
make the past/sequence arithmetic of a with-past decoder fragile; torch.export reasons about
symbolic sizes, so one `Dim.DYNAMIC` per axis gives batch, sequence and past axes that hold for
any size (present length comes out as `past + seq`). It is slower to run (~10 s for a tiny model).

The exporter quietly writes opset 18 when asked for an opset it cannot convert to, so the written
model's opset is checked. A failure is reported naming the registered component it happened in.
"""

from __future__ import annotations

import contextlib
import io
import logging
import traceback
import warnings
from pathlib import Path

import torch

from qtk import plan, registry
from qtk.errors import QtkError, UsageError
from qtk.export.wrapper import OnnxDecoder, input_names, output_names, stateful_parts

DEFAULT_OPSET = 18


def opset_range() -> tuple[int, int]:
    """Opsets the installed exporter writes: its onnxscript version converter's range."""
    try:
        from onnxscript.version_converter import _version_converter as vc

        return vc.SUPPORTED_MIN_ONNX_OPSET, vc.SUPPORTED_MAX_ONNX_OPSET
    except (ImportError, AttributeError):  # private names: fall back to what torch documents
        return 18, 23


def check_opset(opset: int) -> None:
    lo, hi = opset_range()
    if not lo <= opset <= hi:
        import onnxscript

        raise UsageError(f"--opset {opset}: the installed exporter (torch {torch.__version__}, onnxscript "
                         f"{onnxscript.__version__}) writes opsets {lo}..{hi}")


def example_inputs(model: torch.nn.Module, with_past: bool, vocab: int) -> tuple[torch.Tensor, ...]:
    """Small inputs whose dynamic sizes are all different (batch 2, seq 5, past 3), so the exporter
    does not tie axes together that merely happen to be equal in the example."""
    block = model.cfg.block_size
    P = min(3, block // 3) if with_past else 0
    T = min(5, block - P)
    if T < 2 or (with_past and P < 2):
        raise UsageError(f"model.block_size {block} is too small to export (needs at least 6 positions)")
    ids = torch.randint(0, vocab, (2, T), generator=torch.Generator().manual_seed(0))
    mask = torch.ones(2, P + T, dtype=torch.long)
    pos = torch.arange(P, P + T).expand(2, T).contiguous()
    past = []
    if with_past:
        first = model.blocks[0].attn
        kv_heads, hs = first.n_kv_head, first.head_dim
        past = [torch.randn(2, kv_heads, P, hs) for _ in range(2 * len(model.blocks))]
    return (ids, mask, pos, *past)


def dynamic_shapes(with_past: bool, n_layer: int) -> dict:
    D = torch.export.Dim.DYNAMIC
    spec = {"input_ids": {0: D, 1: D}, "attention_mask": {0: D, 1: D}, "position_ids": {0: D, 1: D}}
    if with_past:
        spec["past"] = tuple({0: D, 2: D} for _ in range(2 * n_layer))
    return spec


def verified(kind: str, name: str) -> bool:
    """Whether qtk's own tests export this component and check its parity (the registry says)."""
    return bool(registry.attr(kind, name, "onnx_verified", False))


def unverified(model: torch.nn.Module) -> list[str]:
    """'mixer nsa'-style names of the model's components not checked by qtk's own tests."""
    return [f"{kind} {name!r}" for kind, name in plan.used(model.cfg) if not verified(kind, name)]


def check_past_state(wrapper: OnnxDecoder, args: tuple[torch.Tensor, ...]) -> None:
    """A with-past decoder can carry only the keys and values of padding-aware attention."""
    odd = [(i, role, m) for i, role, m in stateful_parts(wrapper.model)
           if role != "mixer" or not getattr(m, "padding_aware", False)]
    if odd:
        names = ", ".join(sorted({f"{role} {type(m).__name__} (block {i})" for i, role, m in odd}))
        raise UsageError(f"--with-past: this model ({names}) keeps decoding state besides attention keys and "
                         "values, which the Optimum past_key_values interface cannot carry; export without "
                         "--with-past (the full sequence is re-run each step)")


def export(model: torch.nn.Module, with_past: bool, dst: Path, opset: int, vocab: int,
           external_data: bool) -> OnnxDecoder:
    """Write the ONNX decoder of `model` to dst; raises QtkError naming the failing component."""
    wrapper = OnnxDecoder(model, with_past).eval()
    args = example_inputs(model, with_past, vocab)
    if with_past:
        check_past_state(wrapper, args)
    n_layer = len(model.blocks)
    log = io.StringIO()
    quiet = logging.getLogger("torch.onnx")
    old_level = quiet.level
    quiet.setLevel(logging.ERROR)  # "torchvision is not installed" and similar
    try:
        with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(log), \
                contextlib.redirect_stderr(log):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(wrapper, args, str(dst), input_names=input_names(n_layer, with_past),
                                        output_names=output_names(n_layer, with_past), opset_version=opset,
                                        dynamic_shapes=dynamic_shapes(with_past, n_layer), dynamo=True,
                                        external_data=external_data, optimize=True, verbose=False)
    except Exception as e:  # the exporter raises many types; name the component instead
        raise QtkError(explain_failure(e, model)) from None
    finally:
        quiet.setLevel(old_level)
    check_ranges(program.exported_program, model)
    check_written_opset(dst, opset)
    return wrapper


def check_ranges(program, model: torch.nn.Module) -> None:
    """torch.export turns a Python branch on a size into a range limit on that axis, and the ONNX
    graph then holds only inside it (e.g. `if L <= window` traced at L = 8). Every dynamic axis
    must still cover 1..block_size (torch.export reports 2 as the lowest; parity checks 1)."""
    block = model.cfg.block_size
    for sym, r in program.range_constraints.items():
        name = str(sym)
        if name.startswith("u"):  # unbacked sizes of intermediates, not input axes
            continue
        lower, upper = r.lower, r.upper  # sympy integers; upper may be int_oo
        if bool(lower > 2) or bool(upper < block):
            span = f"{lower}..{upper}" if bool(upper < 2**62) else f"{lower} and up"
            names = ", ".join(unverified(model)) or "one of its components"
            raise QtkError(f"cannot export this model ({names}) for every length: its code branches on a "
                           f"tensor size, so the traced graph holds only for sizes {span} of an input axis (the "
                           f"context is {block}); that component needs a size-independent form for ONNX")


def check_written_opset(path: Path, opset: int) -> None:
    """Check the opset, and drop the exporter's per-node stack traces (a third of a small model's
    file, and local paths nobody downstream needs)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    written = {o.domain: o.version for o in model.opset_import}
    if written.get("", written.get("ai.onnx")) != opset:
        raise UsageError(f"--opset {opset}: the installed exporter wrote opset {written.get('')} instead "
                         f"(it converts to {'..'.join(map(str, opset_range()))}); pick one of those")
    for node in model.graph.node:
        del node.metadata_props[:]
    onnx.save(model, str(path))


def _component_classes() -> dict[type, tuple[str, str]]:
    """Registered class -> (kind, name)."""
    out = {}
    for kind in registry.kinds():
        for name in registry.names(kind):
            try:
                cls = registry.get(kind, name)
            except Exception:  # a component module that fails to import is not the one we want
                continue
            if cls is not None:
                out[cls] = (kind, name)
    return out


def explain_failure(e: BaseException, model: torch.nn.Module) -> str:
    """'cannot export ffn 'moe' (blocks.0.ffn, MoE): <reason>' from the innermost registered
    component on the failing stack; else the reason and the model's unverified components."""
    classes = _component_classes()
    paths = {id(m): name for name, m in model.named_modules()}
    seen: list[torch.nn.Module] = []  # components on the failing stacks, outer to inner
    err: BaseException | None = e
    while err is not None:
        for frame, _ in traceback.walk_tb(err.__traceback__):
            obj = frame.f_locals.get("self")
            if isinstance(obj, torch.nn.Module) and id(obj) in paths and type(obj) in classes:
                seen.append(obj)
        err = err.__cause__ or err.__context__
    # the innermost unverified one: a verified SwiGLU inside a MoE is not to blame
    fresh = [m for m in seen if not verified(*classes[type(m)])]
    reason = _reason(e)
    if fresh or seen:
        pick = (fresh or seen)[-1]
        kind, name = classes[type(pick)]
        where = f"{paths[id(pick)]}, {type(pick).__name__}"
        return f"cannot export model.{kind} {name!r} ({where}) to ONNX: {reason}"
    suspects = unverified(model)
    hint = f"; the model uses {', '.join(suspects)}, not verified for ONNX export" if suspects else ""
    return f"ONNX export failed: {reason}{hint}"


def _reason(e: BaseException) -> str:
    """One line: the exporter's own summary of the root cause when it gives one, else the deepest
    explicit cause."""
    err: BaseException = e
    text = str(e)
    if "## Exception summary" in text:
        text = text.split("## Exception summary", 1)[1].strip().split("\n\n")[0]
    else:
        while err.__cause__ is not None:
            err = err.__cause__
        text = f"{type(err).__name__}: {err}"
    text = " ".join(text.split())
    return text[:300] + ("..." if len(text) > 300 else "")
