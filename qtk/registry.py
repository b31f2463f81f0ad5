"""Component registry: config names -> components, by kind ("mixer", "ffn", "memory", "residual",
"router").

An entry names the component's class, its torch-free settings dataclass (shown as the TOML table
`[model.<name>]`), an optional validation hook `validate(settings, model_cfg, key)`, and
attributes other parts of qtk ask about instead of keeping tables of names (e.g.
`onnx_verified`, `uses` = sub-component kinds such as the MoE's "router"). Built-ins are listed as
"module:attr" strings so that listing names (for `--help`, config validation) never imports
torch; a class is imported on first use.

Third-party components arrive through `register(...)`, called by a plugin module that
`model.plugins` names (see qtk.plugins) or that an installed package exposes in the entry-point
group `qtk.components`. The kind "attention" is the old name of "mixer" and still accepted.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from qtk.errors import UsageError

KINDS = ("mixer", "ffn", "memory", "residual", "router")
ALIASES = {"attention": "mixer"}  # the name before per-layer plans allowed non-attention mixers
_S = "qtk.model.settings:"


@dataclass
class Entry:
    kind: str
    name: str
    target: Any                      # class, "module:Class", or None (an empty slot such as memory "none")
    settings: Any = None             # dataclass type, "module:Class", or None
    validate: Any = None             # callable, "module:function", or None
    attrs: dict[str, Any] = field(default_factory=dict)


def _builtin(kind: str, name: str, target: str | None, settings: str | None = None,
             validate: str | None = None, **attrs: Any) -> Entry:
    return Entry(kind, name, target, _S + settings if settings else None, _S + validate if validate else None, attrs)


_BUILTIN = [
    # attention_keys: keys per query the score and value matmuls touch (model FLOPs, qtk/train/flops.py)
    _builtin("mixer", "dense", "qtk.model.attention:DenseAttention", onnx_verified=True,
             attention_keys=_S + "dense_keys"),
    _builtin("mixer", "sliding", "qtk.model.local_attention:SlidingWindowAttention", "SlidingSettings",
             attention_keys=_S + "sliding_keys"),
    _builtin("mixer", "topk", "qtk.model.local_attention:TopKAttention", "TopKSettings", "validate_topk",
             attention_keys=_S + "topk_keys"),
    _builtin("mixer", "nsa", "qtk.model.nsa:NativeSparseAttention", "NSASettings", "validate_nsa",
             attention_keys=_S + "nsa_keys"),
    _builtin("mixer", "linear", "qtk.model.scan_mixers:LinearAttention", "LinearSettings", "validate_linear",
             attention_keys=_S + "scan_keys"),
    _builtin("mixer", "retnet", "qtk.model.scan_mixers:Retention", "RetNetSettings", "validate_scan_heads",
             attention_keys=_S + "scan_keys"),
    _builtin("mixer", "mamba2", "qtk.model.mamba2:Mamba2", "Mamba2Settings", "validate_mamba2",
             attention_keys=_S + "scan_keys"),
    _builtin("mixer", "osc", "qtk.model.scan_mixers:OscillatorySSM", "OscSettings", "validate_osc",
             attention_keys=_S + "scan_keys"),
    _builtin("ffn", "mlp", "qtk.model.mlp:SwiGLU", onnx_verified=True),
    _builtin("ffn", "moe", "qtk.model.moe:MoE", "MoESettings", "validate_moe", uses=("router",)),
    _builtin("ffn", "none", None, onnx_verified=True),
    _builtin("router", "switch", "qtk.model.router:SwitchRouter"),
    _builtin("router", "hash", "qtk.model.router:HashRouter"),
    _builtin("memory", "none", None, onnx_verified=True),
    _builtin("memory", "engram", "qtk.model.engram:Engram", "EngramSettings"),
    _builtin("memory", "knn", "qtk.model.knn:KNNMemory", "KNNSettings", "validate_knn", stream=True),
    _builtin("residual", "standard", "qtk.model.residual:StandardResidual", onnx_verified=True),
    _builtin("residual", "mhc", "qtk.model.mhc:ManifoldHyperConnection", "MHCSettings"),
]
_ENTRIES: dict[str, dict[str, Entry]] = {k: {} for k in KINDS}
for _e in _BUILTIN:
    _ENTRIES[_e.kind][_e.name] = _e
_BUILTIN_NAMES = {k: set(v) for k, v in _ENTRIES.items()}
_entry_points_loaded = False


def _kind(kind: str) -> str:
    kind = ALIASES.get(kind, kind)
    if kind not in _ENTRIES:
        raise UsageError(f"unknown component kind {kind!r} (known: {', '.join(KINDS)})")
    return kind


def _resolve(ref: Any) -> Any:
    if not isinstance(ref, str):
        return ref
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def load_entry_points() -> None:
    """Import the plugin modules of installed packages (entry-point group `qtk.components`), once."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    from qtk.plugins import import_entry_point

    for ep in entry_points(group="qtk.components"):
        import_entry_point(ep)


def kinds() -> list[str]:
    return list(KINDS)


def names(kind: str) -> list[str]:
    """Registered names of one kind, built-ins first."""
    return list(_ENTRIES[_kind(kind)])


def builtin(kind: str, name: str) -> bool:
    return name in _BUILTIN_NAMES[_kind(kind)]


def summary() -> str:
    """One line per kind, e.g. "model.mixer: dense, sliding" (for `--help` texts)."""
    return "; ".join(f"model.{kind}: {', '.join(names(kind))}" for kind in KINDS)


def entry(kind: str, name: str, key: str | None = None) -> Entry:
    """The entry registered as `name`, or a UsageError naming the key and the known names."""
    kind = _kind(kind)
    if name not in _ENTRIES[kind]:
        load_entry_points()
    if name not in _ENTRIES[kind]:
        where = f"{key}: " if key else ""
        raise UsageError(f"{where}unknown {kind} {name!r} (known: {', '.join(names(kind))})")
    return _ENTRIES[kind][name]


def check(kind: str, name: str, key: str | None = None) -> None:
    entry(kind, name, key)


def get(kind: str, name: str) -> Any:
    """The class registered as `name` (None for an empty entry such as memory 'none')."""
    return _resolve(entry(kind, name).target)


def attr(kind: str, name: str, key: str, default: Any = None) -> Any:
    return entry(kind, name).attrs.get(key, default)


def resolved_attr(kind: str, name: str, key: str, default: Any = None) -> Any:
    """attr(), with a "module:name" string imported (builtins name their hooks lazily)."""
    return _resolve(attr(kind, name, key, default))


def settings_classes() -> dict[str, type]:
    """Component name -> its settings dataclass, for every registered component that has one."""
    return {e.name: _resolve(e.settings) for kind in KINDS for e in _ENTRIES[kind].values() if e.settings}


def validator(kind: str, name: str) -> Callable | None:
    return _resolve(entry(kind, name).validate)


def register(kind: str, name: str, *, settings: type | None = None, validate: Callable | None = None,
             **attrs: Any) -> Callable[[Any], Any]:
    """Decorator: make a component selectable as `model.<kind> = "<name>"` (or in model.layers),
    with its own settings dataclass (TOML table `[model.<name>]`) and validation hook."""
    kind = _kind(kind)

    def deco(cls: Any) -> Any:
        if settings is not None:
            for other in KINDS:
                e = _ENTRIES[other].get(name)
                if e is not None and e.settings and (other, name) != (kind, name):
                    raise UsageError(f"component {name!r}: settings table model.{name} is taken by {other} {name!r}")
        if name in _BUILTIN_NAMES[kind]:
            raise UsageError(f"component {kind} {name!r} is built in: pick another name")
        _ENTRIES[kind][name] = Entry(kind, name, cls, settings, validate, dict(attrs))
        return cls

    return deco


def unregister(kind: str, name: str) -> None:
    """Remove a registered third-party component (tests use it to clean up)."""
    kind = _kind(kind)
    if name in _BUILTIN_NAMES[kind]:
        raise UsageError(f"component {kind} {name!r} is built in")
    _ENTRIES[kind].pop(name, None)
