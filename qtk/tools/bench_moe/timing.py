"""Wall-clock timing of one layer: warm-up calls, then repeated timed calls summarised by their
median and spread. CUDA events on GPU (the work queued by the call, not the Python launch time);
time.perf_counter on CPU.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import time
from typing import Callable

import torch
import torch.nn as nn

from qtk.model.context import Context


def time_calls(fn: Callable[[], object], device: torch.device, warmup: int, repeat: int,
               min_total: float = 0.05) -> list[float]:
    """Seconds of each timed call of fn, after `warmup` untimed ones: `repeat` calls, or more
    (up to 10x) when calls are short, so that a median rests on about `min_total` seconds."""
    return time_interleaved({"fn": fn}, device, warmup, repeat, min_total)["fn"]


def time_interleaved(fns: dict[str, Callable[[], object]], device: torch.device, warmup: int, repeat: int,
                     min_total: float = 0.05) -> dict[str, list[float]]:
    """As time_calls for several functions called in turn (a, b, a, b, ...), so that load from
    other processes on a shared machine falls on all of them alike and their ratio stays fair."""
    timer = _cuda_timer(device) if device.type == "cuda" else _cpu_timer
    last = {name: 0.0 for name in fns}
    for _ in range(warmup):
        last = {name: timer(fn) for name, fn in fns.items()}
    fastest = min(last.values())
    if warmup and fastest > 0:
        repeat = max(repeat, min(10 * repeat, math.ceil(min_total / fastest)))
    out: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            out[name].append(timer(fn))
    return out


def _cpu_timer(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _cuda_timer(device: torch.device) -> Callable[[Callable[[], object]], float]:
    torch.cuda.synchronize(device)

    def timer(fn: Callable[[], object]) -> float:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3

    return timer


def summarise(seconds: list[float], tokens: int) -> dict[str, float]:
    """Median, quartiles and extremes in ms, and tokens/s at the median."""
    ms = sorted(s * 1e3 for s in seconds)
    q = statistics.quantiles(ms, n=4, method="inclusive") if len(ms) > 1 else [ms[0]] * 3
    med = q[1]
    return {"median_ms": med, "q25_ms": q[0], "q75_ms": q[2], "min_ms": ms[0], "max_ms": ms[-1],
            "repeats": len(ms), "tokens_per_s": tokens / (med / 1e3) if med > 0 else float("inf")}


def layer_calls(layer: nn.Module, x: torch.Tensor, idx: torch.Tensor,
                dtype: torch.dtype | None) -> dict[str, Callable[[], object]]:
    """The two calls timed per layer and batch: x (1, N, C), idx (1, N) the token ids.

    fwd: inference (eval mode, no grad, every token routed);
    fwd_bwd: a training step's share (train mode, so capacity drops and aux losses apply),
    backward into the parameters and the input, as a layer inside a model would."""
    N = idx.shape[1]
    pos = torch.arange(N, device=x.device)
    grad_out = torch.randn_like(x)
    x_train = x.detach().clone().requires_grad_(True)
    cast = (lambda: torch.autocast(x.device.type, dtype=dtype)) if dtype is not None else contextlib.nullcontext

    def fwd() -> object:
        layer.eval()
        with torch.no_grad(), cast():
            return layer(x, Context(idx, pos, None, None))

    def fwd_bwd() -> object:
        layer.train()
        layer.zero_grad(set_to_none=True)
        x_train.grad = None
        ctx = Context(idx, pos, None, None)
        with cast():
            y = layer(x_train, ctx)
        loss = (y.float() * grad_out).sum() + sum(ctx.aux_losses)
        loss.backward()
        return loss

    return {"fwd": fwd, "fwd_bwd": fwd_bwd}

