"""Component registry: config names -> classes, by kind ("attention", "ffn", ...).

Built-in components are listed here as "module:Class" strings so that listing names (for
`--help`, config validation) never imports torch; the class is imported on first use.
Third-party code can add its own with the `register` decorator.
"""

import importlib
from typing import Any, Callable

from qtk.errors import UsageError

_BUILTIN: dict[str, dict[str, str]] = {
    "attention": {
        "dense": "qtk.model.attention:DenseAttention",
        "sliding": "qtk.model.local_attention:SlidingWindowAttention",
        "topk": "qtk.model.local_attention:TopKAttention",
        "nsa": "qtk.model.nsa:NativeSparseAttention",
    },
    "ffn": {"mlp": "qtk.model.mlp:SwiGLU", "moe": "qtk.model.moe:MoE"},
    "router": {"switch": "qtk.model.router:SwitchRouter", "hash": "qtk.model.router:HashRouter"},
    "memory": {"none": "", "engram": "qtk.model.engram:Engram"},
    "residual": {"standard": "qtk.model.residual:StandardResidual", "mhc": "qtk.model.mhc:ManifoldHyperConnection"},
}
_ADDED: dict[str, dict[str, Any]] = {}


def kinds() -> list[str]:
    return sorted(set(_BUILTIN) | set(_ADDED))


def names(kind: str) -> list[str]:
    """Registered names of one kind, built-ins first."""
    return list(_BUILTIN.get(kind, {})) + [n for n in _ADDED.get(kind, {}) if n not in _BUILTIN.get(kind, {})]


def summary() -> str:
    """One line per kind, e.g. "model.attention: dense, sliding" (for `--help` texts)."""
    return "; ".join(f"model.{kind}: {', '.join(names(kind))}" for kind in kinds())


def check(kind: str, name: str, key: str | None = None) -> None:
    """Raise a UsageError naming the key and the known names when `name` is not registered."""
    known = names(kind)
    if name not in known:
        where = f"{key}: " if key else ""
        raise UsageError(f"{where}unknown {kind} {name!r} (known: {', '.join(known)})")


def get(kind: str, name: str) -> Any:
    """The class registered as `name` (None for an empty entry such as memory 'none')."""
    check(kind, name)
    if name in _ADDED.get(kind, {}):
        return _ADDED[kind][name]
    target = _BUILTIN[kind][name]
    if not target:
        return None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def register(kind: str, name: str) -> Callable[[Any], Any]:
    """Decorator: make a component selectable as `model.<kind> = "<name>"`."""

    def deco(cls: Any) -> Any:
        _ADDED.setdefault(kind, {})[name] = cls
        return cls

    return deco
