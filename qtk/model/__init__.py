"""The language model and its components.

Component contract (every registered mixer / ffn / memory / residual follows it; README, "The
component contract", has the whole of it and a worked plugin):
- built as `Cls(cfg: ModelConfig, layer: int)`; its settings are `cfg.<name>` (a dataclass the
  registry names next to the class);
- mixer, ffn and memory: `forward(x, ctx) -> y`, x and y (B, T, C); memory's y is added to the
  residual stream;
- residual: `forward(h, fn, ctx) -> h` wraps one sublayer `fn(x, ctx)`, with classmethods
  `expand(x)` / `collapse(h)` turning the embedding into the residual state and back;
- optional: `reset_parameters()` (own init), `no_weight_decay()` (local parameter names),
  `new_state(batch, device, dtype)` (decode state, qtk.model.state), `max_context` (None = no limit);
- `ctx` (qtk.model.context.Context) carries token ids, positions, RoPE tables, document starts,
  the decode state, a list for auxiliary losses and, when `want_stats`, a dict for statistics.
"""

from typing import Any

__all__ = ["GPT"]


def __getattr__(name: str) -> Any:
    # lazy: config loading imports qtk.model.settings, which must not pull in torch
    if name == "GPT":
        from qtk.model.gpt import GPT

        return GPT
    raise AttributeError(f"module 'qtk.model' has no attribute {name!r}")
