"""`qtk bench-moe`'s core: for the dense MLP and each MoE variant at the model's width, count
parameters and FLOPs, measure routing on real tokens, time forward and forward+backward over a
sweep of tokens per batch, and time the dispatch against the naive loop. Returns one JSON-ready
dict; reports progress through a callback; prints nothing.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import platform
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from qtk.config import RunConfig
from qtk.data.prepare import prepare
from qtk.device import autocast_dtype, resolve_device
from qtk.errors import UsageError
from qtk.model.gpt import padded_vocab
from qtk.model.mlp import ffn_hidden
from qtk.tools.bench_moe.dispatch import compare_dispatch
from qtk.tools.bench_moe.routing import Probe, routing_stats, train_probe, val_loss
from qtk.tools.bench_moe.timing import layer_calls, summarise, time_calls
from qtk.tools.bench_moe.variants import Variant, expert_hidden, flops_per_token, make_variants, param_counts

TRAIN_PREFIX = 1 << 20  # tokens of the training split the probe samples from (a brief run needs no more)


@dataclass
class BenchOptions:
    routers: list[str] = field(default_factory=lambda: ["hash", "switch"])
    top_ks: list[int] = field(default_factory=lambda: [1, 2])
    experts: list[int] = field(default_factory=lambda: [4, 8, 16, 32])
    tokens: list[int] = field(default_factory=lambda: [1, 16, 256, 4096])
    warmup: int = 2
    repeat: int = 5
    capacity_factor: float | None = None  # None: model.moe.capacity_factor
    route_tokens: int = 16384
    train_steps: int = 0
    dispatch_tokens: list[int] | None = None  # None: the largest of `tokens`
    threads: int = 1                            # torch CPU threads; 0 = torch's default
    seed: int = 0

    def check(self) -> None:
        lists = (("--tokens", self.tokens), ("--experts", self.experts), ("--top-k", self.top_ks),
                 ("--dispatch-tokens", self.dispatch_tokens or [1]))
        for name, values in lists:
            if not values or min(values) < 1:
                raise UsageError(f"{name}: needs positive integers, got {values}")
        for name, value, low in (("--repeat", self.repeat, 1), ("--warmup", self.warmup, 0),
                                 ("--route-tokens", self.route_tokens, 1), ("--train-steps", self.train_steps, 0),
                                 ("--threads", self.threads, 0)):
            if value < low:
                raise UsageError(f"{name}: must be >= {low}, got {value}")
        if self.capacity_factor is not None and self.capacity_factor < 0:
            raise UsageError(f"--capacity-factor: must be >= 0, got {self.capacity_factor}")


@dataclass
class _Inputs:
    device: torch.device
    dtype: torch.dtype | None
    timing_ids: torch.Tensor   # (1, max tokens)
    route_batches: torch.Tensor  # (n, B, T)
    train_ids: torch.Tensor | None
    source: str


def bench_moe(cfg: RunConfig, opts: BenchOptions, progress: Callable[[str], None] | None = None) -> dict:
    """Run every measurement for cfg's model width; see the module docstring."""
    say = progress or (lambda msg: None)
    opts.check()
    opts = dataclasses.replace(opts, tokens=sorted(set(opts.tokens)))
    variants = make_variants(opts.routers, opts.top_ks, opts.experts)
    cfg = copy.deepcopy(cfg)  # the vocabulary and capacity factor are filled in below
    if opts.capacity_factor is not None:
        cfg.model.moe.capacity_factor = opts.capacity_factor
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(opts.threads or threads)
        inputs = _inputs(cfg, opts, say)
        rows = [_bench_variant(v, cfg, opts, inputs, say) for v in variants]
        return {"config": _config_summary(cfg, opts, inputs), "machine": _machine(inputs.device),
                "variants": rows}
    finally:
        torch.set_num_threads(threads)


def _inputs(cfg: RunConfig, opts: BenchOptions, say: Callable[[str], None]) -> _Inputs:
    device = resolve_device(cfg.train.device)
    data = prepare(cfg.data, notice=lambda msg: say(f"note: {msg}"))
    if cfg.model.vocab_size == 0:
        cfg.model.vocab_size = padded_vocab(data.tokenizer.vocab_size)
    elif cfg.model.vocab_size < data.tokenizer.vocab_size:
        raise UsageError(f"model.vocab_size ({cfg.model.vocab_size}) is smaller than the tokenizer's "
                         f"({data.tokenizer.vocab_size})")
    val = data.val.get(0, len(data.val))
    n_time = max(opts.tokens + (opts.dispatch_tokens or []))
    timing = np.resize(val, n_time)  # repeats the held-out text if it is shorter than the largest batch
    T = cfg.model.block_size
    B = cfg.train.micro_batch_size or cfg.train.batch_size
    rows = min(max(opts.route_tokens // T, 1), len(val) // T)
    if rows < 1:
        raise UsageError(f"{data.source}: its held-out split has {len(val)} tokens, fewer than one "
                         f"model.block_size ({T})")
    B = min(B, rows)
    batches = val[:rows // B * B * T].reshape(-1, B, T)
    train = data.train.get(0, min(len(data.train), TRAIN_PREFIX)) if opts.train_steps else None
    if train is not None and len(train) <= T + 1:
        raise UsageError(f"--train-steps: {data.source}'s training split has {len(train)} tokens, too few "
                         f"for one window of model.block_size ({T})")
    as_ids = lambda a: torch.from_numpy(np.ascontiguousarray(a)).long().to(device)  # noqa: E731
    return _Inputs(device, autocast_dtype(cfg.train.dtype, device), as_ids(timing)[None], as_ids(batches),
                   as_ids(train) if train is not None else None, data.source)


def _bench_variant(v: Variant, cfg: RunConfig, opts: BenchOptions, inp: _Inputs, say) -> dict:
    mcfg = v.model_config(cfg.model)
    torch.manual_seed(opts.seed)
    probe = Probe(mcfg).to(inp.device)
    params = param_counts(probe.layer, v)
    router_params = sum(p.numel() for p in probe.layer.router.parameters()) if v.ffn == "moe" else 0
    row = {**dataclasses.asdict(v), "params_total": params["total"], "params_active": params["active"],
           "flops_per_token": flops_per_token(v, mcfg, router_params)}
    if opts.train_steps:
        say(f"{v.name}: training the probe for {opts.train_steps} steps")
        B, n, T = inp.route_batches.shape[1], opts.train_steps, mcfg.block_size
        losses = train_probe(probe, inp.train_ids, n, B, T, cfg.train, inp.dtype, opts.seed)
        row["training"] = {"steps": n, "first_loss": losses[0], "final_loss": float(np.mean(losses[-5:])),
                           "val_loss": val_loss(probe, inp.route_batches)}
    say(f"{v.name}: routing {inp.route_batches.numel():,} held-out tokens")
    row["routing"] = routing_stats(probe, inp.route_batches, mcfg.moe.capacity_factor)
    row["timings"] = _time_variant(v, probe, opts, inp, say)
    if v.ffn == "moe":
        row["dispatch"] = []
        for n in opts.dispatch_tokens or [max(opts.tokens)]:
            say(f"{v.name}: grouped dispatch vs the naive loop on {n} tokens")
            row["dispatch"].append(compare_dispatch(probe, inp.timing_ids[:, :n], inp.device, opts.warmup,
                                                    opts.repeat, inp.dtype))
    return row


def _time_variant(v: Variant, probe: Probe, opts: BenchOptions, inp: _Inputs, say) -> list[dict]:
    out = []
    for n in opts.tokens:
        say(f"{v.name}: timing {n} tokens")
        idx = inp.timing_ids[:, :n]
        with torch.no_grad():
            x = probe.hidden(idx)  # (1, n, C)
        calls = layer_calls(probe.layer, x, idx, inp.dtype)
        out.append({"tokens": n, **{mode: summarise(time_calls(fn, inp.device, opts.warmup, opts.repeat), n)
                                    for mode, fn in calls.items()}})
    return out


def _config_summary(cfg: RunConfig, opts: BenchOptions, inp: _Inputs) -> dict:
    m = cfg.model
    B, T = inp.route_batches.shape[1:]
    state = "freshly initialised" if not opts.train_steps else f"after {opts.train_steps} training steps"
    return {
        "n_embd": m.n_embd, "ffn_hidden": ffn_hidden(m),
        "expert_hidden": expert_hidden(m), "shared_expert": m.moe.shared_expert, "vocab_size": m.vocab_size,
        "capacity_factor": m.moe.capacity_factor, "aux_loss_coef": m.moe.aux_loss_coef,
        "routers": opts.routers, "top_k": opts.top_ks, "experts": opts.experts, "tokens": opts.tokens,
        "dispatch_tokens": opts.dispatch_tokens or [max(opts.tokens)],
        "warmup": opts.warmup, "repeat": opts.repeat, "seed": opts.seed, "train_steps": opts.train_steps,
        "data": inp.source, "tokenizer": cfg.data.tokenizer, "route_batch": [B, T],
        "route_tokens": inp.route_batches.numel(),
        "hidden_states": f"RMSNorm(token embedding) of held-out {inp.source} tokens, probe {state}",
        "device": str(inp.device), "dtype": str(inp.dtype or torch.float32).removeprefix("torch."),
        "fwd": "eval mode, no grad, every token routed",
        "fwd_bwd": "train mode (capacity limit and aux losses apply), gradients to parameters and input",
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _machine(device: torch.device) -> dict:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    return {"device": name, "torch": torch.__version__, "threads": torch.get_num_threads(),
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}


def parse_ints(text: str, flag: str) -> list[int]:
    """'1,16,256' -> [1, 16, 256]; a UsageError naming the flag otherwise."""
    try:
        values = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"{flag}: expected comma-separated integers, got {text!r}") from None
    if not values:
        raise UsageError(f"{flag}: no values in {text!r}")
    return values


def parse_names(text: str, flag: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise UsageError(f"{flag}: no values in {text!r}")
    return names
