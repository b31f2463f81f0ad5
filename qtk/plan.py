"""The per-layer plan: which mixer, feed-forward and memory each of the n_layer blocks gets.

`model.layers` is a comma-separated pattern repeated to n_layer. An item is
`MIXER[/FFN][+MEMORY]`, optionally `*N` for N copies:

    "dense"                          every layer dense attention
    "sliding,sliding,sliding,dense"  a 3:1 local/global stack
    "nsa*3,dense"                    the same with NSA
    "sliding/moe*2,dense+engram"     MoE feed-forwards in the local layers, Engram memory in the dense one

An empty pattern gives every layer `model.mixer` and `model.ffn`. A layer whose item names no
memory gets `model.memory` when that memory's settings place it there (its `layers` setting,
e.g. `model.engram.layers = "1,3"`, or "auto" where the settings say where that is). One torch-free function resolves it; the model, the checks,
the exporter and the docs all read its result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qtk import registry
from qtk.errors import UsageError


@dataclass(frozen=True)
class LayerSpec:
    mixer: str
    ffn: str
    memory: str  # "none" = no memory module in this block


def _items(pattern: str) -> list[tuple[str, str | None, str | None]]:
    """"a/b+c*2,d" -> [(a, b, c), (a, b, c), (d, None, None)], names checked against the registry."""
    out = []
    for raw in pattern.replace(" ", "").split(","):
        if not raw:
            raise UsageError(f"model.layers: empty item in {pattern!r} (expected e.g. \"sliding*3,dense\")")
        item, star, count = raw.partition("*")
        try:
            n = int(count) if star else 1
        except ValueError:
            raise UsageError(f"model.layers: {raw!r}: the count after '*' must be an integer") from None
        if n < 1:
            raise UsageError(f"model.layers: {raw!r}: the count after '*' must be >= 1")
        rest, plus, memory = item.partition("+")
        mixer, slash, ffn = rest.partition("/")
        registry.check("mixer", mixer, f"model.layers ({raw!r})")
        if slash:
            registry.check("ffn", ffn, f"model.layers ({raw!r})")
        if plus:
            registry.check("memory", memory, f"model.layers ({raw!r})")
        out += [(mixer, ffn if slash else None, memory if plus else None)] * n
    return out


def placement(model: Any) -> set[int]:
    """Blocks that get `model.memory` by its own settings (a `layers` setting: "1,3")."""
    if model.memory == "none":
        return set()
    s = model.settings.get(model.memory)
    spec = getattr(s, "layers", None)
    if spec is None:  # a memory without a placement setting goes in every block
        return set(range(model.n_layer))
    if str(spec).strip() == "auto" and callable(getattr(s, "auto_layers", None)):
        return set(s.auto_layers(model.n_layer))
    out = set()
    for part in str(spec).replace(" ", "").split(","):
        if not part:
            continue
        try:
            i = int(part)
        except ValueError:
            raise UsageError(f"model.{model.memory}.layers: {part!r} is not a block index "
                             "(expected e.g. \"1,3\")") from None
        if not 0 <= i < model.n_layer:
            raise UsageError(f"model.{model.memory}.layers: block {i} does not exist "
                             f"(model.n_layer = {model.n_layer})")
        out.add(i)
    return out


def resolve(model: Any) -> list[LayerSpec]:
    """One LayerSpec per block of `model` (a ModelConfig)."""
    items = _items(model.layers) if model.layers.strip() else [(model.mixer, None, None)]
    if model.n_layer % len(items):
        raise UsageError(f"model.layers has {len(items)} layers, which does not divide model.n_layer "
                         f"({model.n_layer}): the pattern repeats to fill the stack")
    placed = placement(model)
    specs = []
    for i in range(model.n_layer):
        mixer, ffn, memory = items[i % len(items)]
        if memory is None:
            memory = model.memory if i in placed else "none"
        specs.append(LayerSpec(mixer, ffn or model.ffn, memory))
    return specs


def used(model: Any) -> list[tuple[str, str]]:
    """(kind, name) of every component the model uses, in a stable order, sub-components included."""
    out: list[tuple[str, str]] = []

    def add(kind: str, name: str) -> None:
        if (kind, name) not in out:
            out.append((kind, name))
            for sub in registry.attr(kind, name, "uses", ()):
                add(sub, getattr(model, sub))

    for spec in resolve(model):
        add("mixer", spec.mixer)
        add("ffn", spec.ffn)
        add("memory", spec.memory)
    add("residual", model.residual)
    return out
