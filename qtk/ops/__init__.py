"""Fast ops behind one facade each: a plain torch `*_ref` (the reference and the CPU path) and a
CuPy kernel (kernels/*.cu, through `qtk.ops.cupy_loader`). Callers use the facades
(`selected_attention`, `ngram_hash`, `simhash`); `backend()` says which implementation they
dispatch CUDA tensors to. CPU tensors always take the torch reference.

The backend is chosen once, lazily (at the first op on CUDA tensors, or `backend()` /
`describe()`): "auto" takes "cupy" when CuPy can compile and run a probe kernel on a CUDA
device, else "torch". The default is "torch" until the CuPy kernels have passed their GPU tests
on real hardware (tests/test_kernels.py -m gpu); QTK_OPS=auto opts in. `set_backend("torch" | "cupy" | None)` or the QTK_OPS environment
variable ("torch" | "cupy" | "auto") forces a side; forcing "cupy" where it cannot run is a
UsageError naming the reason. `qtk --version` prints `describe()`.

`qtk.ops.scan.scan` (the linear-time mixers' recurrence) dispatches on its own: fla's Triton
kernel for CUDA tensors when fla-core is installed, else its plain-torch chunked form.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import torch

from qtk.errors import UsageError

BACKENDS = ("torch", "cupy")
_IMPLS: dict[str, dict[str, Callable[..., Any]]] = {}
_requested: str | None = None  # set_backend's choice; None = QTK_OPS, else DEFAULT
# Not "auto" yet: the kernels were only checked in a CPU emulation, never on a GPU.
DEFAULT = "torch"
_resolved: tuple[str, str] | None = None  # (backend, why), once chosen


def register(op: str, backend_name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: `fn` implements `op` on `backend_name`."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        _IMPLS.setdefault(op, {})[backend_name] = fn
        return fn

    return deco


def _wanted() -> tuple[str, str]:
    """(torch | cupy | auto, where that came from)."""
    if _requested is not None:
        return _requested, "set_backend"
    env = os.environ.get("QTK_OPS", "").strip().lower()
    if env and env not in BACKENDS + ("auto",):
        raise UsageError(f"QTK_OPS={env!r} is not an ops backend (known: torch, cupy, auto)")
    return (env, "QTK_OPS") if env else (DEFAULT, "default (CuPy kernels not yet verified on a GPU; QTK_OPS=auto opts in)")


def _resolve() -> tuple[str, str]:
    wanted, source = _wanted()
    if wanted == "torch":
        return "torch", f"chosen by {source}"
    from qtk.ops import cupy_loader

    why_not = cupy_loader.probe()
    if why_not is None:
        import qtk.ops.cupy_kernels  # noqa: F401  (registers the "cupy" implementations)

        return "cupy", cupy_loader.version_info()
    if wanted == "cupy":
        raise UsageError(f"ops backend 'cupy' was requested ({source}) but cannot run here: {why_not}")
    return "torch", f"cupy unavailable: {why_not}"


def set_backend(name: str | None) -> None:
    """Force a backend ("torch" | "cupy"); None = the default (QTK_OPS, else auto). Forcing
    "cupy" checks at once that it can run, and raises UsageError (changing nothing) if not."""
    global _requested, _resolved
    if name is not None and name not in BACKENDS:
        raise UsageError(f"unknown ops backend {name!r} (known: {', '.join(BACKENDS)})")
    previous = _requested, _resolved
    _requested, _resolved = name, None
    if name == "cupy":
        try:
            backend()
        except UsageError:
            _requested, _resolved = previous
            raise


def backend() -> str:
    """The backend the facades use for CUDA tensors, chosen at the first call."""
    global _resolved
    if _resolved is None:
        _resolved = _resolve()
    return _resolved[0]


def describe() -> str:
    """One line for `qtk --version`: the backend and why, e.g. 'torch (cupy unavailable: ...)'."""
    try:
        name = backend()
    except UsageError as e:
        return f"unusable ({e})"
    return f"{name} ({_resolved[1]})" if _resolved else name


def impl(op: str, device: torch.device | None = None) -> Callable[..., Any]:
    """The implementation of `op` for tensors on `device` (None = CUDA): the chosen backend's for
    CUDA tensors when it has one, else the torch reference. CPU tensors never start the CuPy
    probe, except when "cupy" was forced: a forced backend that cannot run fails loudly."""
    impls = _IMPLS[op]
    if device is not None and device.type != "cuda":
        if _wanted()[0] == "cupy":
            backend()
        return impls["torch"]
    return impls.get(backend(), impls["torch"])


from qtk.ops.hashing import ngram_hash, simhash  # noqa: E402  (they register into _IMPLS)
from qtk.ops.sparse_attention import selected_attention  # noqa: E402

__all__ = ["backend", "set_backend", "describe", "register", "impl", "selected_attention", "ngram_hash", "simhash"]
