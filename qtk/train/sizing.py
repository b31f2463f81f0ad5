"""Fit the machine: how much memory one training micro-batch takes, how much the machine has, and
the largest micro-batch that fits (the global batch is kept through gradient accumulation).

The estimate of one optimizer step's peak:

    now (what the process holds: libraries, data, parameters)
  + gradients (one per trainable parameter) + AdamW state (two more)
  + 1.5 x saved activations(B) = a + b * B, counted exactly by a probe forward at B = 1 and 2
    through `torch.autograd.graph.saved_tensors_hooks` (each storage once), under the run's
    autocast; the factor is the backward's gradients of activations, alive beside the saved
    ones, and allocator slack (fitted on CPU: without it the small preset's peak RSS at batch 8
    was 27% above the estimate; with it, tiny, small and the MoE, NSA and Engram variants land within 20%)
  + the backward's transient buffers (twice the largest saved activation of one micro-batch)

against the memory available: on CPU, /proc/meminfo's MemAvailable capped by the container's
cgroup limit (v2 memory.max, v1 memory.limit_in_bytes) minus its usage; on GPU, the free device
memory; `train.memory_limit` or $QTK_MEMORY_LIMIT caps either (tests and shared machines use it);
a margin is kept back. The probe also times one forward + backward, which gives the expected
time per step and per run.
"""

from __future__ import annotations

import os
import re
import resource
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch

from qtk.errors import UsageError

MARGIN = 0.10          # kept back from what the machine says is available
ACT_FACTOR = 1.5       # peak activation memory / saved activations (see the module docstring)
MARGIN_MIN = 256 << 20
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
          "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40}


def parse_bytes(text: str, key: str = "train.memory_limit") -> int:
    """'2GiB', '512M', '1.5g', '1000000' -> bytes."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise UsageError(f"{key}: expected a size such as 4GiB or 512MiB, got {text!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max" (v2, no limit) is not a number


def cgroup_room() -> int | None:
    """What the container's memory limit still allows (None: no limit)."""
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit = _read_int(limit_file)
        if limit is not None and limit < 1 << 60:  # v1 reports "no limit" as a huge number
            return max(0, limit - (_read_int(usage_file) or 0))
    return None


def mem_available() -> int:
    """Linux MemAvailable (reclaimable page cache included)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def rss_now() -> int:
    """Resident set size of this process (bytes)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss if sys.platform == "darwin" else rss * 1024


@dataclass
class Budget:
    available: int   # bytes the step may grow into (beyond what the process holds now)
    source: str


def budget(device: torch.device, limit: str = "auto") -> Budget:
    """Memory a training step may use on `device`, after the margin."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        avail, source = free, f"free memory of {torch.cuda.get_device_name(device)}"
    else:
        avail, source = mem_available(), "available RAM"
        room = cgroup_room()
        if room is not None and room < avail:
            avail, source = room, "the container's memory limit"
    cap = limit if limit != "auto" else os.environ.get("QTK_MEMORY_LIMIT", "auto")
    if cap != "auto":
        # a cap counts the whole process, like the machine's limit would
        held = torch.cuda.memory_allocated(device) if device.type == "cuda" else rss_now()
        capped = parse_bytes(cap, "train.memory_limit" if limit != "auto" else "QTK_MEMORY_LIMIT") - held
        if capped < avail:
            avail, source = max(0, capped), f"the memory limit {cap}"
    keep = max(MARGIN_MIN, int(MARGIN * avail))
    return Budget(max(0, avail - keep), source)


@dataclass
class Probe:
    static: int              # gradients + optimizer state, bytes
    act_fixed: int           # saved activations independent of the batch
    act_per_sample: int      # saved activations per sequence
    largest: int             # largest saved tensor per sequence (transient buffers scale with it)
    step_s: tuple[float, float]  # forward + backward seconds at micro-batches 1 and 2
    probe_s: float           # what the probe itself took

    def step_bytes(self, micro: int) -> int:
        """Bytes one optimizer step with this micro-batch adds to what the process holds now."""
        act = self.act_fixed + self.act_per_sample * micro
        return self.static + int(ACT_FACTOR * act) + 2 * self.largest * micro

    def seconds(self, micro: int, per_rank: int) -> float:
        """Expected seconds of one optimizer step: per_rank / micro forward + backward passes,
        each timed linearly from the probe's two sizes."""
        t1, t2 = self.step_s
        return max(t1, t1 + (t2 - t1) * (micro - 1)) * (per_rank // micro)


def _saved_bytes(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, autocast: Callable) -> tuple[int, int]:
    """(total, largest) bytes of the tensors autograd saves for one forward; each storage once."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        try:
            storage = t.untyped_storage()
            seen[storage.data_ptr()] = max(seen.get(storage.data_ptr(), 0), storage.nbytes())
        except (RuntimeError, NotImplementedError):  # tensors without storage (e.g. sparse views)
            pass
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), autocast():
        _, loss = model(x, y)
    del loss
    return sum(seen.values()), max(seen.values(), default=0)


def probe(model: torch.nn.Module, optimizer_states: int, batch: Callable[[int], tuple[torch.Tensor, torch.Tensor]],
          autocast: Callable) -> Probe:
    """Measure activations at micro-batches 1 and 2 and time one forward + backward at 1.
    `batch(n)` returns (x, y) of n sequences; the model's gradients are left cleared."""
    t0 = time.perf_counter()
    trainable = [p for p in model.parameters() if p.requires_grad]
    param_bytes = sum(p.numel() * p.element_size() for p in trainable)
    static = param_bytes * (1 + optimizer_states)
    was_training = model.training
    model.train()
    one, largest1 = _saved_bytes(model, *batch(1), autocast)
    two, largest2 = _saved_bytes(model, *batch(2), autocast)
    per_sample = max(0, two - one)
    times = []
    for n in (1, 2):
        x, y = batch(n)
        t1 = time.perf_counter()
        with autocast():
            _, loss = model(x, y)
        loss.backward()
        if x.device.type == "cuda":
            torch.cuda.synchronize(x.device)
        times.append(time.perf_counter() - t1)
        del loss
    for p in trainable:
        p.grad = None
    model.train(was_training)
    return Probe(static, max(0, one - per_sample), per_sample, max(largest1, largest2 - largest1, 1),
                 (times[0], times[1]), time.perf_counter() - t0)


@dataclass
class Plan:
    micro_batch_size: int
    fits: bool
    estimate_bytes: int          # the process's expected peak with that micro-batch
    available_bytes: int         # what the process may reach (now + budget)
    source: str
    step_s: float                # expected seconds per optimizer step
    explicit: bool

    def to_dict(self) -> dict:
        return asdict(self)


def choose(p: Probe, b: Budget, per_rank: int, explicit: int = 0, held: int | None = None) -> Plan:
    """The largest divisor of the per-process batch whose step fits the budget (or `explicit`)."""
    held = rss_now() if held is None else held
    divisors = [d for d in range(per_rank, 0, -1) if per_rank % d == 0]
    if explicit:
        micro = explicit
    else:
        micro = next((d for d in divisors if p.step_bytes(d) <= b.available), 1)
    fits = p.step_bytes(micro) <= b.available
    return Plan(micro, fits, held + p.step_bytes(micro), held + b.available, b.source,
                p.seconds(micro, per_rank), bool(explicit))


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def duration(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


def eval_batch(model: torch.nn.Module, block: int, device: torch.device, requested: int | None = None,
               limit: str = "auto", ceiling: int = 32) -> tuple[int, str | None]:
    """Windows per evaluation forward: `requested`, else as many as fit (at most `ceiling`).
    Inference keeps a few activations of one layer alive at once, not every layer's: four
    times the largest tensor a training forward of one window saves bounds it. Returns the
    batch and, when a requested batch will not fit, a warning."""
    ids = torch.zeros(1, block, dtype=torch.long, device=device)
    was_training = model.training
    model.eval()
    with torch.enable_grad():
        _, largest = _saved_bytes(model, ids, ids, lambda: torch.autocast(device.type, enabled=False))
    model.train(was_training)
    per_window = 4 * largest
    room = budget(device, limit).available
    fit = max(1, room // max(1, per_window))
    if requested:
        warning = None if requested <= fit else (
            f"--batch-size {requested} may not fit in memory (about {human(requested * per_window)} of "
            f"{human(room)}); {fit} would")
        return requested, warning
    return int(min(ceiling, fit)), None
