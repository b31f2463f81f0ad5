"""The language model and its components.

Component contract (every registered attention / ffn / memory / residual follows it):
- built as `Cls(cfg: ModelConfig, layer: int)`;
- attention, ffn and memory: `forward(x, ctx) -> y`, x and y (B, T, C); memory's y is added to
  the residual stream;
- residual: `forward(h, fn, ctx) -> h` wraps one sublayer `fn(x, ctx)`, with classmethods
  `expand(x)` / `collapse(h)` turning the embedding into the residual state and back;
- `ctx` (qtk.model.context.Context) carries token ids, positions, RoPE tables, the KV cache and
  a list for auxiliary losses / a dict for router statistics.
"""

from qtk.model.gpt import GPT

__all__ = ["GPT"]
