"""Learning-rate schedule: linear warm-up, then cosine decay to min_lr_ratio * lr.

Progress is steps / max_steps, or elapsed / max_time when a time budget is set (whichever is
further along), so a `--max-time` run still ends its decay at the budget."""

import math

from qtk.config import TrainConfig


def progress(cfg: TrainConfig, step: int, elapsed: float) -> float:
    p = 0.0
    if cfg.max_steps:
        p = step / cfg.max_steps
    if cfg.max_time:
        p = max(p, elapsed / cfg.max_time)
    return min(1.0, p)


def lr_at(cfg: TrainConfig, step: int, elapsed: float = 0.0) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    low = cfg.lr * cfg.min_lr_ratio
    return low + 0.5 * (cfg.lr - low) * (1 + math.cos(math.pi * progress(cfg, step, elapsed)))
