"""Shared pieces of the benchmarks: matching Hugging Face GPT-2 model and timing helpers."""

from __future__ import annotations

import platform
import statistics
import time

import qtk  # noqa: F401  (before torch: sets OMP_WAIT_POLICY, see qtk/__init__.py)
import torch

from qtk import config
from qtk.model import GPT


def machine() -> str:
    threads = torch.get_num_threads()
    cpu = platform.processor() or platform.machine()
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name()} (torch {torch.__version__})"
    return f"{cpu}, {threads} torch threads (torch {torch.__version__})"


def qtk_model(size: str, vocab: int, **sets) -> GPT:
    cfg = config.load(size, flags=sets)
    cfg.model.vocab_size = vocab
    torch.manual_seed(0)
    return GPT(cfg.model)


def hf_gpt2(model: GPT):
    """transformers' GPT-2 with the same layers, width, heads, context and vocabulary."""
    from transformers import GPT2Config, GPT2LMHeadModel

    c = model.cfg
    hf_cfg = GPT2Config(vocab_size=c.vocab_size, n_positions=c.block_size, n_embd=c.n_embd, n_layer=c.n_layer,
                        n_head=c.n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        attn_implementation="sdpa")
    torch.manual_seed(0)
    return GPT2LMHeadModel(hf_cfg)


def timed(fn, warmup: int, repeat: int) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def median(xs: list[float]) -> float:
    return statistics.median(xs)
