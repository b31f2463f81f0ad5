"""Checks of an exported model against the torch model it came from, and its speed.

Parity (the Optimum validation protocol): max |Δlogits| at batch {1, 3} x sequence {1, 7, 128}
(clipped to the context), plus, for a with-past model, the same sequences fed in two halves
through the past inputs; then a greedy generation compared token for token, the ONNX side
decoding through its past inputs when it has them. Speed: prefill latency and per-token decode
at batch 1, medians of repeated runs.
"""

from __future__ import annotations

import copy
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from qtk.export.runtime import OnnxLM
from qtk.generate import Sampling, Step, sample_tokens, torch_step
from qtk.model.layout import transpose_linears

BATCHES = (1, 3)
SEQS = (1, 7, 128)
GREEDY_TOKENS = 64
GREEDY_PROMPT = b"The "


def shapes(block: int) -> list[tuple[int, int]]:
    return [(b, t) for b in BATCHES for t in sorted({min(s, block) for s in SEQS})]


@torch.no_grad()
def logits_parity(model: torch.nn.Module, lm: OnnxLM, vocab: int, seed: int = 0) -> list[dict]:
    """One row per (batch, seq): max |Δlogits| of a full pass (and, with past, of a split pass)."""
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for B, T in shapes(model.cfg.block_size):
        ids = torch.randint(0, vocab, (B, T), generator=gen)
        ref = model(ids)[0].numpy()  # (B, T, V)
        got, _ = lm.run(ids.numpy())
        row = {"batch": B, "seq": T, "max_abs_delta": float(np.abs(got - ref).max())}
        if lm.with_past and T >= 2:
            half = T // 2
            first, past = lm.run(ids[:, :half].numpy())
            rest, _ = lm.run(ids[:, half:].numpy(), past)
            split = np.concatenate([first, rest], axis=1)
            row["max_abs_delta_past"] = float(np.abs(split - ref).max())
        rows.append(row)
    return rows


def max_delta(rows: list[dict]) -> float:
    return max(max(r["max_abs_delta"], r.get("max_abs_delta_past", 0.0)) for r in rows)


@torch.no_grad()
def greedy(step: Step, prompt_ids: list[int], n: int, vocab: int, block: int) -> list[int]:
    """n greedy tokens (eot does not stop it: the comparison wants all n)."""
    tokens = sample_tokens(step, torch.tensor([prompt_ids]), Sampling(temperature=0.0), vocab, block)
    return [int(next(tokens)[0]) for _ in range(n)]


def greedy_match(model: torch.nn.Module, lm: OnnxLM, tok, n: int = GREEDY_TOKENS) -> dict:
    """Torch (KV cache) vs ONNX greedy tokens from the same prompt."""
    prompt = ([tok.eot_id] + tok.encode(GREEDY_PROMPT))[: model.cfg.block_size]
    block = model.cfg.block_size
    want = greedy(torch_step(model), prompt, n, tok.vocab_size, block)
    got = greedy(lm.step(), prompt, n, tok.vocab_size, block)
    same = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), n)
    return {"tokens": n, "matching_prefix": same, "matching": sum(a == b for a, b in zip(want, got)),
            "identical": want == got}


def _median_s(fn: Callable[[], object], reps: int) -> float:
    fn()  # warm-up (allocations, ORT's first-run graph work)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def decode_seconds(step: Step, prompt: torch.Tensor, n: int) -> float:
    """Median seconds per generated token after prefilling `prompt` (1, L)."""
    logits = step(prompt, True)
    times = []
    for _ in range(n):
        nxt = logits.argmax(-1)[:, None]
        t0 = time.perf_counter()
        logits = step(nxt, False)
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:] or times)


@torch.no_grad()
def speed(model: torch.nn.Module | None, models: dict[str, Path], vocab: int, prefill: int = 128,
          decode: int = 32, reps: int = 5, threads: int = 1, block: int | None = None) -> dict:
    """{batch, threads, prefill_tokens, runs: {name: {prefill_ms, decode_ms, decode_tok_s}}} at
    batch 1 for torch eager (when model is given; as `qtk generate` runs it) and each ONNX file. One thread each by default:
    on a shared machine a second thread mostly waits for a time slice (torch's decode then reads
    ~24 ms/token instead of ~0.3 on the tiny model), and batch-1 decode of a small model gains
    little from more."""
    block = block or (model.cfg.block_size if model is not None else prefill + decode + 1)
    T = max(1, min(prefill, block - decode - 1))
    ids = torch.randint(0, vocab, (1, T), generator=torch.Generator().manual_seed(1))
    steps = {name: OnnxLM(path, device="cpu", threads=threads).step() for name, path in models.items()}
    if model is not None:  # torch as `qtk generate` runs it: the (in, out) weight layout, on a copy
        decoder = copy.deepcopy(model)
        transpose_linears(decoder)
        steps = {"torch": torch_step(decoder), **steps}
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        out = {name: {"prefill_ms": 1e3 * _median_s(lambda: step(ids, True), reps),
                      "decode_ms": 1e3 * decode_seconds(step, ids, decode)} for name, step in steps.items()}
    finally:
        torch.set_num_threads(old)
    for row in out.values():
        row["decode_tok_s"] = 1e3 / max(row["decode_ms"], 1e-9)
    return {"batch": 1, "threads": threads, "prefill_tokens": T, "runs": out}
