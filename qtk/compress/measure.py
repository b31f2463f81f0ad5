"""Before/after figures on one protocol: held-out loss, perplexity and bits per byte on the same
windows of the validation split, prefill and decode tokens/s, and weight sizes."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn as nn

from qtk.data.shards import TokenStream
from qtk.eval import evaluate, spaced_windows, windows


@dataclass
class Protocol:
    """Which tokens every model is scored on; `text` is printed with the numbers."""

    stream: TokenStream
    source: str
    block_size: int
    max_tokens: int | None
    batch_size: int = 8

    @property
    def text(self) -> str:
        n = len(self.stream)
        if self.max_tokens is None or self.max_tokens >= n:
            count = len(list(windows(n, self.block_size, self.block_size // 2)))
            return (f"{self.source}: whole split ({n - 1:,} targets) in {count} sliding windows of "
                    f"{self.block_size} tokens, stride {self.block_size // 2}")
        count = len(list(spaced_windows(n, self.block_size, self.max_tokens)))
        return (f"{self.source}: {count} non-overlapping {self.block_size}-token windows spread evenly "
                f"(~{count * self.block_size:,} targets, <|endoftext|> not scored); the same windows for every model")


def held_out(model: nn.Module, proto: Protocol, special_ids: set[int], device: torch.device) -> dict:
    """loss, ppl and bpb on the protocol's windows."""
    m = evaluate(model, proto.stream, special_ids, block_size=proto.block_size, batch_size=proto.batch_size,
                 max_tokens=proto.max_tokens, device=device)
    return {k: m[k] for k in ("loss", "ppl", "bpb", "tokens")}


@torch.no_grad()
def _prefill_once(model: nn.Module, device: torch.device, batch: int) -> float:
    """Seconds for one forward pass over (batch, block_size) tokens."""
    idx = torch.randint(0, model.cfg.vocab_size, (batch, model.cfg.block_size),
                        generator=torch.Generator().manual_seed(0)).to(device)
    _sync(device)
    t0 = time.perf_counter()
    model(idx)
    _sync(device)
    return time.perf_counter() - t0


@torch.no_grad()
def _decode_once(model: nn.Module, device: torch.device, new_tokens: int, prompt: int = 16) -> float:
    """Seconds for `new_tokens` greedy KV-cache steps at batch 1 after a short prompt."""
    block = model.cfg.block_size
    idx = torch.randint(0, model.cfg.vocab_size, (1, max(1, min(prompt, block - new_tokens))),
                        generator=torch.Generator().manual_seed(0)).to(device)
    state = model.new_state(1, device)
    logits, _ = model(idx, state=state)
    nxt = logits[:, -1].argmax(-1, keepdim=True)
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(new_tokens):
        logits, _ = model(nxt, state=state)
        nxt = logits[:, -1].argmax(-1, keepdim=True)
    _sync(device)
    return time.perf_counter() - t0


def speeds(models: dict[str, nn.Module], device: torch.device, rounds: int = 3, batch: int = 8,
           new_tokens: int = 64) -> dict[str, dict]:
    """Prefill tokens/s (one forward over batch x block_size) and decode tokens/s (batch 1, KV
    cache) per model. The models take turns, round after round, and each keeps its best time,
    so a busy machine slows all of them alike rather than whichever ran during the spike."""
    best = {name: [float("inf"), float("inf")] for name in models}
    for name, m in models.items():  # warm-up
        _prefill_once(m, device, 1)
    for _ in range(rounds):
        for name, m in models.items():
            new = max(1, min(new_tokens, m.cfg.block_size - 2))
            best[name][0] = min(best[name][0], _prefill_once(m, device, batch))
            best[name][1] = min(best[name][1], _decode_once(m, device, new) / new)
    return {name: {"prefill_tokens_per_s": batch * models[name].cfg.block_size / max(p, 1e-9),
                   "decode_tokens_per_s": 1.0 / max(d, 1e-9)} for name, (p, d) in best.items()}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def delta_pct(before: float, after: float) -> float:
    return 100.0 * (after - before) / before
