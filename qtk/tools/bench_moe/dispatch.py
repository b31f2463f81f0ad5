"""The MoE layer's dispatch (qtk.model.moe.dispatch_grouped: sort assignments by expert, one
gather, one contiguous matmul per expert, one index_add) against the reference loop
(dispatch_naive: a boolean mask per expert and slot, a masked scatter per mask), timed forward
and forward+backward on the same routing (calls interleaved), and checked to give the same output and input gradient.
"""

from __future__ import annotations

import contextlib

import torch

from qtk.model.moe import dispatch_grouped, dispatch_naive
from qtk.tools.bench_moe.routing import Probe, route
from qtk.tools.bench_moe.timing import summarise, time_interleaved

IMPLEMENTATIONS = {"grouped": dispatch_grouped, "naive": dispatch_naive}


def compare_dispatch(probe: Probe, idx: torch.Tensor, device: torch.device, warmup: int, repeat: int,
                     dtype: torch.dtype | None) -> dict:
    """Both dispatches on the routing of idx (1, N), every assignment kept: time of each (fwd,
    fwd_bwd), the naive/grouped time ratio, and the largest differences of output and input grad."""
    layer = probe.layer.eval()
    with torch.no_grad():
        h = probe.hidden(idx)  # (1, N, C)
        expert, weight, _ = route(layer, h, idx)
    flat = h.reshape(-1, h.shape[-1]).detach().requires_grad_(True)  # (N, C)
    keep = torch.ones_like(expert, dtype=torch.bool)
    grad_out = torch.randn_like(flat)
    cast = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype else contextlib.nullcontext
    N = idx.numel()
    out: dict = {"tokens": N}
    calls = {}
    results = {}
    for name, fn in IMPLEMENTATIONS.items():
        def fwd(fn=fn) -> torch.Tensor:
            with torch.no_grad(), cast():
                return fn(flat, expert, weight, keep, layer.experts)

        def fwd_bwd(fn=fn) -> torch.Tensor:
            flat.grad = None
            layer.zero_grad(set_to_none=True)
            with cast():
                y = fn(flat, expert, weight, keep, layer.experts)
            (y.float() * grad_out).sum().backward()
            return y

        y = fwd_bwd().detach().float()
        results[name] = (y, flat.grad.detach().clone())
        calls[name] = {"fwd": fwd, "fwd_bwd": fwd_bwd}
    for mode in ("fwd", "fwd_bwd"):
        times = time_interleaved({name: c[mode] for name, c in calls.items()}, device, warmup, repeat)
        for name, seconds in times.items():
            out.setdefault(name, {})[mode] = summarise(seconds, N)
    out["speedup"] = {mode: out["naive"][mode]["median_ms"] / out["grouped"][mode]["median_ms"]
                      for mode in ("fwd", "fwd_bwd")}
    (ya, ga), (yb, gb) = results["grouped"], results["naive"]
    out["max_abs_diff"] = float((ya - yb).abs().max())
    out["max_abs_grad_diff"] = float((ga - gb).abs().max())
    out["max_abs_out"] = float(yb.abs().max())
    return out
