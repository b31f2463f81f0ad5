"""2:4 semi-structured sparse kernels (torch.sparse.to_sparse_semi_structured: CUTLASS/cuSPARSELt,
CUDA compute capability 8.0+, fp16/bf16). Times a forward pass of the pruned model with its 2:4
linear layers converted, against the same model dense, both in fp16 with CUDA events."""

from __future__ import annotations

import copy

import torch
import torch.nn as nn


def unavailable_reason(device: torch.device) -> str | None:
    if device.type != "cuda":
        return "2:4 sparse kernels need a CUDA GPU with compute capability 8.0+ (running on CPU)"
    major, minor = torch.cuda.get_device_capability(device)
    if major < 8:
        return f"2:4 sparse kernels need compute capability 8.0+ (this GPU is {major}.{minor})"
    if not hasattr(torch.sparse, "to_sparse_semi_structured"):
        return "this torch build has no torch.sparse.to_sparse_semi_structured"
    return None


def _time_forward(model: nn.Module, x: torch.Tensor, repeats: int = 20) -> float:
    """Median milliseconds per forward."""
    with torch.no_grad():
        for _ in range(3):
            model(x)
        times = []
        for _ in range(repeats):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            model(x)
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def speed(model: nn.Module, names: list[str], device: torch.device, batch: int = 8) -> dict:
    """Dense fp16 vs 2:4-sparse fp16 forward tokens/s, or why it could not run."""
    reason = unavailable_reason(device)
    if reason:
        return {"available": False, "reason": reason}
    dense = copy.deepcopy(model).to(device=device, dtype=torch.float16).eval()
    sparse = copy.deepcopy(dense)
    converted, failed = 0, []
    for name in names:
        lin = sparse.get_submodule(name)
        if lin.weight is getattr(getattr(sparse, "wte", None), "weight", None):
            failed.append(f"{name} (tied to the embedding)")
            continue
        try:
            lin.weight = nn.Parameter(torch.sparse.to_sparse_semi_structured(lin.weight.detach()), requires_grad=False)
            converted += 1
        except (RuntimeError, ValueError) as e:
            failed.append(f"{name} ({str(e).splitlines()[0][:80]})")
    if not converted:
        return {"available": False, "reason": "no layer could be converted: " + "; ".join(failed[:3])}
    x = torch.randint(0, model.cfg.vocab_size, (batch, model.cfg.block_size), device=device)
    try:
        dense_ms, sparse_ms = _time_forward(dense, x), _time_forward(sparse, x)
    except RuntimeError as e:
        return {"available": False, "reason": f"2:4 forward failed: {str(e).splitlines()[0][:160]}"}
    tokens = x.numel()
    return {"available": True, "dtype": "float16", "layers": converted, "not_converted": failed,
            "dense_tokens_per_s": tokens / dense_ms * 1e3, "sparse_tokens_per_s": tokens / sparse_ms * 1e3,
            "speedup": dense_ms / sparse_ms}
