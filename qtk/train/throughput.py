"""Throughput of the training steps alone and MFU: tokens/s x model FLOPs per token over the
device's peak. GPUs: a table of dense bf16 peaks from the vendors' data sheets. CPUs: the fp32
matmul rate measured here (best of a few timed 1024^2 matmuls, the rate a training step's big
matmuls can reach) and cached under the qtk cache directory per CPU model and thread count; on a
shared machine it is measured again when the load average has fallen well below what it was.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import torch

from qtk.paths import atomic_write, cache_dir

# Dense (no sparsity) bf16 tensor-core peaks, FLOP/s; the first name found in the device name wins.
GPU_BF16_PEAK = (
    ("B200", 2250e12), ("H200", 989e12), ("H100 PCIe", 756e12), ("H100", 989e12), ("H800", 989e12),
    ("A100", 312e12), ("A800", 312e12), ("L40S", 362e12), ("L40", 181e12), ("L4", 121e12),
    ("RTX 6000 Ada", 364e12), ("A6000", 155e12), ("RTX 4090", 165e12), ("RTX 3090", 71e12), ("A10", 125e12),
)


def gpu_peak(name: str) -> float | None:
    for key, peak in GPU_BF16_PEAK:
        if key.lower() in name.lower():
            return peak
    return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measure_cpu_peak(n: int = 1024, reps: int = 5, trials: int = 3) -> float:
    """Best fp32 matmul FLOP/s over `trials` timings of `reps` n x n matmuls (best: a shared machine
    only ever slows a timing down)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):
        a @ b
    best = 0.0
    for _ in range(trials):
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - t))
    return best


def _load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


def cpu_peak() -> float:
    """The cached peak; measured when there is none, and again when the machine is much quieter
    than at the last measurement (a busy machine's figure is too low). The best figure is kept."""
    key = f"{_cpu_model()}|threads={torch.get_num_threads()}|torch={torch.__version__}"
    path = cache_dir() / "cpu_peak.json"
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    entry, load = known.get(key), _load()
    if entry is None or load < 0.5 * entry["load"] - 0.5:
        peak = measure_cpu_peak()
        known[key] = {"flops": max(peak, entry["flops"] if entry else 0.0), "load": load}
        atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(known, indent=1)))
    return known[key]["flops"]


def device_peak(device: torch.device) -> tuple[float | None, str]:
    """(peak FLOP/s of one device, where the figure comes from)."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        peak = gpu_peak(name)
        return peak, (f"{name} bf16 data sheet" if peak else f"{name}: not in the peak table")
    return cpu_peak(), "fp32 matmul measured on this CPU"


def active_non_embedding_params(model: torch.nn.Module) -> int:
    """Parameters a token passes through, without the token embedding: a mixture of experts counts
    top_k of its n experts (modules with `experts` and `top_k`)."""
    n = model.num_params(non_embedding=True)
    for m in model.modules():
        experts, top_k = getattr(m, "experts", None), getattr(m, "top_k", None)
        if isinstance(experts, torch.nn.ModuleList) and isinstance(top_k, int) and len(experts) > top_k:
            per = sum(p.numel() for p in experts.parameters())
            n -= per * (len(experts) - top_k) // len(experts)
    return n


class StepClock:
    """Seconds spent in training steps only: evaluation and checkpoint time is excluded by pause()."""

    def __init__(self) -> None:
        self.window_s = self.total_s = 0.0
        self.window_steps = 0
        self._t = time.perf_counter()

    def pause(self) -> None:
        now = time.perf_counter()
        self.window_s += now - self._t
        self._t = now

    def resume(self) -> None:
        self._t = time.perf_counter()

    def window(self) -> tuple[int, float]:
        """(steps, step seconds) since the last call; call after the device has synchronised."""
        self.pause()
        out = self.window_steps, self.window_s
        self.total_s += self.window_s
        self.window_s, self.window_steps = 0.0, 0
        return out
