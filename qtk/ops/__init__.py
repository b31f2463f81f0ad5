"""Fast ops behind one facade each: a plain torch `*_ref` (the reference and the CPU path) and,
later, a CuPy kernel. Callers use the facade (`selected_attention`, `ngram_hash`, `simhash`);
`backend()` says which implementation the facades dispatch to.

Today every op has only its torch reference, so the backend is "torch". A CuPy backend slots in
by registering its functions in `_IMPLS[op]["cupy"]` and being chosen by `set_backend` (or the
QTK_OPS environment variable); tests force either side with `set_backend`.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from qtk.errors import UsageError

BACKENDS = ("torch", "cupy")
_IMPLS: dict[str, dict[str, Callable[..., Any]]] = {}
_chosen: str | None = None


def register(op: str, backend_name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: `fn` implements `op` on `backend_name`."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        _IMPLS.setdefault(op, {})[backend_name] = fn
        return fn

    return deco


def set_backend(name: str | None) -> None:
    """Force a backend ("torch" | "cupy"); None = the default (QTK_OPS, else torch)."""
    global _chosen
    if name is not None and name not in BACKENDS:
        raise UsageError(f"unknown ops backend {name!r} (known: {', '.join(BACKENDS)})")
    _chosen = name


def backend() -> str:
    """The backend the facades use now: the requested one when some op implements it, else
    "torch" (no CuPy kernels exist yet; the GPU-kernel issue adds them)."""
    wanted = _chosen or os.environ.get("QTK_OPS", "torch")
    if wanted != "torch" and any(wanted in impls for impls in _IMPLS.values()):
        return wanted
    return "torch"


def impl(op: str) -> Callable[..., Any]:
    """The implementation of `op` on the current backend, else its torch reference."""
    impls = _IMPLS[op]
    return impls.get(backend(), impls["torch"])


from qtk.ops.hashing import ngram_hash, simhash  # noqa: E402  (they register into _IMPLS)
from qtk.ops.sparse_attention import selected_attention  # noqa: E402

__all__ = ["backend", "set_backend", "register", "impl", "selected_attention", "ngram_hash", "simhash"]
