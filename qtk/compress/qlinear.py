"""Quantized linear layers and the runtimes a quantized checkpoint can load with.

QuantLinear stores what quant.encode produces (int8 or packed int4 codes, fp16 scales, optional
zero points and an AWQ input scale) and dequantizes its weight on every forward, so memory holds
only the small tensors. On CPU the same layers can instead run as torch's dynamic-int8 linear
(`torch.ao.nn.quantized.dynamic.Linear`, fbgemm/x86 kernels: int8 weights, activations quantized
per batch); int8 checkpoints map onto it exactly, int4 ones are re-quantized to int8 per channel.
"dense" turns them into plain nn.Linear layers holding the dequantized fp32 weights (what ONNX
export traces). Which runtime a loaded model uses: the `runtime` argument, else
$QTK_QUANT_RUNTIME, else the one `qtk quantize` measured fastest on CPU (recorded in the
checkpoint), else dequant. `qtk.load` applies all this to a checkpoint whose metadata says it is
quantized.
"""

from __future__ import annotations

import os
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

from qtk.compress.quant import QSpec, decode
from qtk.errors import UsageError
from qtk.swap import swap_module, swap_modules

RUNTIMES = ("dequant", "dynamic-int8", "dense")


class QuantLinear(nn.Module):
    """y = x·Ŵᵀ + b with Ŵ dequantized from int8 / int4 codes at each call."""

    def __init__(self, in_features: int, out_features: int, spec: QSpec, bias: bool = False,
                 act_scale: bool = False) -> None:
        super().__init__()
        self.in_features, self.out_features, self.spec = in_features, out_features, spec
        n_groups = -(-in_features // spec.group_for(in_features))
        if spec.bits == 8:
            self.register_buffer("qweight", torch.zeros(out_features, in_features, dtype=torch.int8))
        else:
            self.register_buffer("qweight", torch.zeros(out_features, (in_features + 1) // 2, dtype=torch.uint8))
        self.register_buffer("scales", torch.ones(out_features, n_groups, dtype=torch.float16))
        zeros = torch.zeros(out_features, n_groups, dtype=torch.uint8) if spec.zero_point else None
        self.register_buffer("zeros", zeros)
        self.register_buffer("act_scale", torch.ones(in_features) if act_scale else None)
        self.register_buffer("bias", torch.zeros(out_features) if bias else None)

    def load_codes(self, tensors: dict[str, torch.Tensor], act_scale: torch.Tensor | None = None,
                   bias: torch.Tensor | None = None) -> "QuantLinear":
        for key, value in tensors.items():
            getattr(self, key).copy_(value)
        if act_scale is not None:
            self.act_scale.copy_(act_scale)
        if bias is not None:
            self.bias.copy_(bias.detach())
        return self

    def dequantized_weight(self) -> torch.Tensor:
        """(out, in) float32 weight as the layer applies it (AWQ's input scale not folded in)."""
        t = {"qweight": self.qweight, "scales": self.scales}
        if self.zeros is not None:
            t["zeros"] = self.zeros
        return decode(t, self.spec, self.in_features)

    @property
    def weight(self) -> torch.Tensor:
        """The effective float weight (input scale folded in), for code that inspects layers."""
        w = self.dequantized_weight()
        return w / self.act_scale[None, :] if self.act_scale is not None else w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.act_scale is not None:
            x = x / self.act_scale.to(x.dtype)
        bias = self.bias.to(x.dtype) if self.bias is not None else None
        return F.linear(x, self.dequantized_weight().to(x.dtype), bias)

    def extra_repr(self) -> str:
        g = self.spec.group_for(self.in_features)
        return (f"in={self.in_features}, out={self.out_features}, int{self.spec.bits}, group={g}, "
                f"zero_point={self.spec.zero_point}, act_scale={self.act_scale is not None}")


def layer_info(q: QuantLinear) -> dict:
    return {"in": q.in_features, "out": q.out_features, "bias": q.bias is not None,
            "act_scale": q.act_scale is not None}


def swap_in(model: nn.Module, info: dict) -> None:
    """Replace the layers named in a checkpoint's quantization meta with empty QuantLinears."""
    spec = QSpec(info["bits"], info["group"], info["zero_point"])
    for name, L in info["layers"].items():
        swap_module(model, name, QuantLinear(L["in"], L["out"], spec, L["bias"], L["act_scale"]))


# ------------------------------------------------------------------ torch dynamic int8 (CPU)

def _dynamic_from(q: QuantLinear) -> nn.Module:
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    if q.spec.bits == 8 and q.act_scale is None:
        # the stored codes and scales, exactly
        scale = q.scales.float()[:, 0]
        w = q.qweight.float() * scale[:, None]
    else:
        w = q.weight.float()
        scale = (w.abs().amax(1) / 127).clamp(min=1e-12)
    with warnings.catch_warnings():  # torch marks its quantized tensors deprecated (moving to torchao)
        warnings.simplefilter("ignore")
        qw = torch.quantize_per_channel(w, scale.double(), torch.zeros_like(scale, dtype=torch.long), 0, torch.qint8)
        dyn = DynamicLinear(q.in_features, q.out_features, bias_=q.bias is not None, dtype=torch.qint8)
        dyn.set_weight_bias(qw, q.bias.float() if q.bias is not None else None)
    return dyn


def to_dynamic_int8(model: nn.Module) -> nn.Module:
    """Swap every QuantLinear for torch's dynamic-int8 linear (CPU only), in place."""
    swap_modules(model, lambda _, m: isinstance(m, QuantLinear), lambda _, m: _dynamic_from(m))
    return model


def _dense_from(q: QuantLinear) -> nn.Linear:
    w = q.weight.detach().float()  # effective weight: activation scale folded in
    dense = nn.Linear(q.in_features, q.out_features, bias=q.bias is not None, device=w.device)
    with torch.no_grad():
        dense.weight.copy_(w)
        if q.bias is not None:
            dense.bias.copy_(q.bias.float())
    return dense


def to_dense(model: nn.Module) -> nn.Module:
    """Swap every QuantLinear for an nn.Linear with its dequantized fp32 weight, in place: the
    model computes what the quantized one does, in plain layers (ONNX Runtime cannot run the
    packed-code unpacking)."""
    swap_modules(model, lambda _, m: isinstance(m, QuantLinear), lambda _, m: _dense_from(m))
    return model


def dynamic_int8_available() -> str | None:
    """None if torch's dynamic-int8 linear can run here, else why not."""
    engines = torch.backends.quantized.supported_engines
    if not any(e in engines for e in ("x86", "fbgemm", "qnnpack", "onednn")):
        return f"no quantized CPU engine in this torch build (engines: {engines})"
    return None


def choose_runtime(info: dict, device: torch.device, runtime: str | None) -> str:
    runtime = runtime or os.environ.get("QTK_QUANT_RUNTIME") or info.get("cpu_runtime") or "dequant"
    if runtime not in RUNTIMES:
        raise UsageError(f"quantized runtime {runtime!r}: expected one of {', '.join(RUNTIMES)}")
    if runtime == "dynamic-int8" and (device.type != "cpu" or dynamic_int8_available()):
        return "dequant"  # torch's dynamic int8 kernels are CPU-only
    return runtime


def apply_runtime(model: nn.Module, info: dict, device: torch.device, runtime: str | None = None) -> nn.Module:
    """Run a loaded quantized model's QuantLinears as `runtime` picks (see choose_runtime), in
    place; the choice is recorded as model.quant_runtime."""
    model.quant_runtime = choose_runtime(info, device, runtime)
    if model.quant_runtime == "dynamic-int8":
        to_dynamic_int8(model)
    elif model.quant_runtime == "dense":
        to_dense(model)
    return model
