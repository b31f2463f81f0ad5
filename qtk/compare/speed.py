"""Training throughput of the compared configs, measured side by side. On a shared machine a
run's own tokens/s follows whatever else ran during its minutes; here every config takes a few
optimizer steps in turn, round after round, seconds apart, so that load changes fall on all alike
and each round gives a within-round ratio to the baseline (the design of the issue-3 benchmark)."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from qtk import config as qconfig


def probe(run_dirs: dict[str, Path], rounds: int = 3, steps: int = 2) -> dict[str, list[float]]:
    """Training tokens/s per config and round: forward, backward and AdamW step on random tokens
    at each run's batch size and context, with the model its config.toml describes."""
    setups = {name: _setup(d) for name, d in run_dirs.items()}
    for name in setups:
        _step(*setups[name])  # warm-up: first-call allocations and kernel selection
    rates: dict[str, list[float]] = {name: [] for name in setups}
    for _ in range(rounds):
        for name, s in setups.items():
            _sync(s[2])
            t0 = time.perf_counter()
            for _ in range(steps):
                _step(*s)
            _sync(s[2])
            rates[name].append(steps * s[2].numel() / (time.perf_counter() - t0))
    return rates


def _sync(x: torch.Tensor) -> None:
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)


def _setup(run_dir: Path) -> tuple:
    from qtk.model import GPT
    from qtk.train.loop import resolve_device

    cfg = qconfig.from_dict(qconfig.read_toml(run_dir / "config.toml"))  # vocab_size resolved
    m, t = cfg.model, cfg.train
    gen = torch.Generator().manual_seed(0)
    dev = resolve_device(t.device)
    model = GPT(m).to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=t.lr, betas=(t.beta1, t.beta2), weight_decay=t.weight_decay)
    tokens = torch.randint(0, m.vocab_size, (t.batch_size, m.block_size + 1), generator=gen)
    tokens = tokens.to(dev)
    return model, opt, tokens[:, :-1], tokens[:, 1:]


def _step(model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    _, loss = model(x, y)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
