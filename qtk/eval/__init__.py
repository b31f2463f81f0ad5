"""Held-out evaluation: loss, perplexity, bits per byte and top-1/top-5 accuracy over a whole
token stream in sliding windows (each token scored once, with up to block_size - stride tokens
of context it did not score), plus throughput and peak memory. Models without a context limit,
and models with a stream state (a kNN memory), read the text in order instead, segment after
segment (`_streamed`)."""

from __future__ import annotations

import math
import resource
import sys
import time
from typing import Callable, Iterator

import torch

from qtk.data.shards import TokenStream


def windows(n_tokens: int, block: int, stride: int) -> Iterator[tuple[int, int, int]]:
    """(begin, end, first_scored) so that inputs are [begin, end) and targets [begin+1, end+1);
    targets before first_scored were scored by an earlier window."""
    prev_end = 0
    begin = 0
    last = n_tokens - 1  # the final token is only ever a target
    while prev_end < last:
        end = min(begin + block, last)
        yield begin, end, prev_end
        prev_end = end
        begin += stride


def spaced_windows(n_tokens: int, block: int, max_tokens: int) -> Iterator[tuple[int, int, int]]:
    """Non-overlapping windows spread evenly over the stream, about max_tokens targets in all."""
    count = max(1, min(max_tokens // block, (n_tokens - 1) // block))
    span = max(0, n_tokens - 1 - block)
    for i in range(count):
        begin = (span * i) // max(1, count - 1) if count > 1 else 0
        end = min(begin + block, n_tokens - 1)
        yield begin, end, begin


def _peak_mem_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux


class _Scores:
    """Running sums of the metrics over scored targets."""

    def __init__(self) -> None:
        self.nats, self.scored, self.top1, self.top5 = 0.0, 0, 0, 0

    def add(self, logits: torch.Tensor, y: torch.Tensor) -> None:
        """logits (B, T, V), y (B, T) with -1 where nothing is scored."""
        mask = y >= 0
        lp = torch.log_softmax(logits.float()[mask], dim=-1)
        tgt = y[mask]
        self.nats -= lp.gather(1, tgt[:, None]).sum().item()
        top = lp.topk(min(5, lp.size(-1)), dim=-1).indices
        self.top1 += (top[:, 0] == tgt).sum().item()
        self.top5 += (top == tgt[:, None]).any(dim=1).sum().item()
        self.scored += tgt.numel()


def _targets(toks: torch.Tensor, first: int, specials: torch.Tensor, stream=None, begin: int = 0) -> torch.Tensor:
    """Targets of a window's tokens (n + 1,) read from `begin`: the first `first` already scored,
    specials not scored, nor tokens a chat stream does not score (all but the assistant's)."""
    tgt = toks[1:].clone()
    tgt[:first] = -1
    tgt[torch.isin(tgt, specials)] = -1
    if hasattr(stream, "scored"):
        tgt[~torch.from_numpy(stream.scored(begin + 1, len(tgt)))] = -1
    return tgt


def _doc_starts(x: torch.Tensor, specials: torch.Tensor) -> torch.Tensor:
    """Where documents begin (their <|endoftext|>), as in training: layers that keep a state
    across positions reset it there."""
    return torch.isin(x, specials.to(x.device))


@torch.no_grad()
def evaluate(model: torch.nn.Module, stream: TokenStream, special_ids: set[int], *, block_size: int,
             stride: int | None = None, batch_size: int = 8, max_tokens: int | None = None,
             device: torch.device | str = "cpu", autocast_dtype: torch.dtype | None = None,
             progress: Callable[[int, int], None] | None = None, memory: bool = True,
             index: dict | None = None) -> dict:
    """Metrics over the whole stream (or about `max_tokens` of it, spread evenly).

    Targets that are special tokens (document separators) are not scored: bits per byte counts
    only the text's own bytes. A model without a context limit (`max_context` None) reads the
    whole text in order instead, carrying its decode state from segment to segment (`streamed`),
    unless a stride or a sample (`max_tokens`) is asked for. A model with a stream state always
    reads in order (a sample is the first `max_tokens` of the text), in segments of block_size,
    with its stream state carried across (`memory` False: the same segments without it, the
    memory-off baseline under the same protocol; `index`: retrieval settings to change for it);
    on a task of variable-length samples (passkey) it reads each sample from its own start
    (`max_tokens`: a spread of the samples)."""
    device = torch.device(device)
    was_training = model.training
    model.eval()
    n = len(stream)
    specials = torch.tensor(sorted(special_ids), dtype=torch.long)
    sample = max_tokens is not None and max_tokens < n
    t0 = time.perf_counter()
    task = getattr(stream, "sample_len", 0)
    if task:  # fixed-length task samples (mqar): one window per sample, from its start
        count = n // task if not sample else max(1, min(n // task, max_tokens // task))
        spans = [(i * task, i * task + min(task - 1, block_size), i * task) for i in range(count)]
        scores = _windowed(model, stream, specials, spans, block_size, batch_size, device, autocast_dtype, progress)
    elif getattr(model, "uses_stream", False) and stride is None and hasattr(stream, "sample_tokens"):
        scores = _by_sample(model, stream, specials, block_size, batch_size, device, autocast_dtype, progress,
                            max_tokens if sample else None, memory, index)
    elif getattr(model, "uses_stream", False) and stride is None:
        limit = min(n, max_tokens + 1) if sample else n
        scores = _streamed(model, stream, specials, block_size, device, autocast_dtype, progress,
                           n=limit, carry_state=model.max_context is None, memory=memory, index=index)
    elif getattr(model, "max_context", block_size) is None and stride is None and not sample:
        scores = _streamed(model, stream, specials, block_size, device, autocast_dtype, progress)
    else:
        spans = (list(spaced_windows(n, block_size, max_tokens)) if sample
                 else list(windows(n, block_size, stride or max(1, block_size // 2))))
        scores = _windowed(model, stream, specials, spans, block_size, batch_size, device, autocast_dtype, progress)
    elapsed = time.perf_counter() - t0
    model.train(was_training)
    whole = not sample
    # For a sample, bytes are estimated from the stream's bytes per scored token.
    n_bytes = stream.n_bytes if whole else stream.n_bytes * scores.scored / max(1, n - 1)
    loss = scores.nats / max(1, scores.scored)
    extra = {"answer_accuracy": scores.top1 / max(1, scores.scored)} if task else {}
    return {
        "loss": loss,
        "ppl": math.exp(min(loss, 700.0)),
        "bpb": scores.nats / (math.log(2) * max(1.0, n_bytes)),
        "top1": scores.top1 / max(1, scores.scored),
        "top5": scores.top5 / max(1, scores.scored),
        "tokens": scores.scored,
        "bytes": int(n_bytes),
        "tokens_per_s": scores.scored / max(elapsed, 1e-9),
        "peak_mem_mb": _peak_mem_mb(device),
        "whole": whole,
        **extra,
    }


def _windowed(model, stream, specials, spans, block_size, batch_size, device, autocast_dtype, progress) -> _Scores:
    scores = _Scores()
    for i in range(0, len(spans), batch_size):
        chunk = spans[i:i + batch_size]
        x = torch.zeros(len(chunk), block_size, dtype=torch.long)
        y = torch.full((len(chunk), block_size), -1, dtype=torch.long)
        for row, (begin, end, first) in enumerate(chunk):
            toks = torch.from_numpy(stream.get(begin, end - begin + 1))
            x[row, : end - begin] = toks[:-1]
            y[row, : end - begin] = _targets(toks, first - begin, specials, stream, begin)
        x = x.to(device)
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            logits, _ = model(x, doc_start=_doc_starts(x, specials))
        scores.add(logits, y.to(device))
        if progress:
            progress(min(i + batch_size, len(spans)), len(spans))
    return scores


STREAM_PARTS = 8  # fixed, so that a streamed score does not depend on the batch size memory allows


def _streamed(model, stream, specials, block_size, device, autocast_dtype, progress, *,
              n: int | None = None, carry_state: bool = True, memory: bool = True, index: dict | None = None
              ) -> _Scores:
    """The first n tokens of the text cut into STREAM_PARTS contiguous parts read side by side,
    each in order in segments of block_size: every token is scored once, with its part before it
    as context as far as the model reaches, through the decode state (`carry_state`, models
    without a context limit) and the stream state (`memory`, models that keep one; document
    starts reset it)."""
    n = len(stream) if n is None else n
    rows = max(1, min(STREAM_PARTS, (n - 1) // block_size))
    part = (n - 1) // rows
    scores = _Scores()
    run = _segment_runner(model, rows, device, autocast_dtype, specials, carry_state, memory, index)
    steps = -(-part // block_size)
    for s in range(steps):
        L = min(block_size, part - s * block_size)
        x = torch.empty(rows, L, dtype=torch.long)
        y = torch.empty(rows, L, dtype=torch.long)
        for r in range(rows):
            toks = torch.from_numpy(stream.get(r * part + s * block_size, L + 1))
            x[r], y[r] = toks[:-1], _targets(toks, 0, specials, stream, r * part + s * block_size)
        scores.add(run(x), y.to(device))
        if progress:
            progress(s + 1, steps)
    # the last (n - 1) - rows * part targets do not fill a part: score them with fresh context
    rest = (n - 1) - rows * part
    if rest > 0:
        toks = torch.from_numpy(stream.get(rows * part, rest + 1))
        run = _segment_runner(model, 1, device, autocast_dtype, specials, carry_state, memory, index)
        for b in range(0, rest, block_size):
            seg = toks[b:b + block_size + 1]
            scores.add(run(seg[None, :-1]), _targets(seg, 0, specials, stream, rows * part + b)[None].to(device))
    return scores


def _by_sample(model, stream, specials, block_size, batch_size, device, autocast_dtype, progress, max_tokens,
               memory, index) -> _Scores:
    """A task of variable-length samples (passkey) for a model with a stream state: each sample read
    from its own start, as `qtk eval --data passkey` reads it (qtk.eval.passkey.read_samples), so
    an answer is always scored with its whole sample behind it. Cutting the text into parts
    instead would start a part inside a sample and score answers whose key the row never read."""
    from qtk.eval.passkey import read_samples, spread

    groups: dict[int, list[int]] = {}
    for i in spread(stream, max_tokens):
        groups.setdefault(stream.sample_tokens(i), []).append(i)
    chunks = [idx[lo:lo + batch_size] for idx in groups.values() for lo in range(0, len(idx), batch_size)]
    scores = _Scores()
    for done, chunk in enumerate(chunks, 1):
        rows = model.new_stream(len(chunk), device, index) if memory else None
        for ys, logits in read_samples(model, stream, chunk, specials, block_size, device, rows,
                                       autocast_dtype=autocast_dtype):
            ys = ys.masked_fill(torch.isin(ys, specials), -1)
            scores.add(logits, ys.to(device))
        if progress:
            progress(done, len(chunks))
    return scores


def _segment_runner(model, rows, device, autocast_dtype, specials, carry_state, memory, index=None) -> Callable:
    """forward(x) -> logits for consecutive segments of `rows` texts, carrying what the model keeps."""
    state = model.new_state(rows, device, torch.float32) if carry_state else None
    uses_stream = getattr(model, "uses_stream", False)
    stream = model.new_stream(rows, device, index) if memory and uses_stream else None
    specials_dev = specials.to(device)

    def run(x: torch.Tensor) -> torch.Tensor:
        x = x.to(device)
        extra = {"stream": stream} if uses_stream else {}
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            return model(x, state=state, doc_start=_doc_starts(x, specials_dev), **extra)[0]

    return run


SEARCH_TIME = ("backend", "auto_threshold", "ef", "threads", "capacity", "evict_fraction", "k")


def overrides(cfg, sets: list[tuple[str, str]]) -> dict:
    """Apply `--set` pairs to a loaded checkpoint's config (data.* and the kNN memory's search-time
    settings, model.knn.*; never the weights' shape); return the memory overrides as a dict."""
    from qtk import config
    from qtk.errors import UsageError

    index = {}
    for key, text in sets:
        name = key.removeprefix("model.knn.")
        if not key.startswith("data.") and not (key.startswith("model.knn.") and name in SEARCH_TIME):
            raise UsageError(f"--set {key}: evaluation can change data.* and model.knn.{{{','.join(SEARCH_TIME)}}} "
                             "only")
        config.set_key(cfg, key, text)
        if key.startswith("model.knn."):
            index[name] = getattr(cfg.model.knn, name)
    config.validate(cfg)
    return index


def evaluate_checkpoint(path: str, data: str | None = None, *, config_file: str | None = None,
                        stride: int | None = None, batch_size: int | None = None, device: str = "auto",
                        progress: Callable[[int, int], None] | None = None,
                        notice: Callable[[str], None] | None = None, sets: list[tuple[str, str]] | None = None,
                        memory: bool = True, corpus: str | None = None) -> dict:
    """Load a checkpoint (file or run directory) and score it on held-out text. batch_size None:
    as many windows per forward as fit in memory (at most 32). `sets`: see `overrides`;
    `memory` False scores a kNN-memory model without its memory; `corpus`: a corpus memory built
    by this checkpoint (qtk.memory.corpus) that its kNN layer also searches."""
    from qtk.train.sizing import eval_batch
    from qtk.data.passkey import PasskeyStream
    from qtk.data.prepare import eval_stream
    from qtk.device import autocast_dtype
    from qtk.load import load_model

    ck, model, dev = load_model(path, config_file=config_file, device=device)
    index = overrides(ck.cfg, sets or [])
    if corpus is not None:
        from qtk.memory.corpus import attach

        attach(model, corpus, ck.path)
    stream, source = eval_stream(data, ck.cfg.data, ck.tokenizer)
    if isinstance(stream, PasskeyStream):
        from qtk.eval.passkey import evaluate_passkey

        m = evaluate_passkey(model, stream, ck.tokenizer.eot_id, block_size=ck.cfg.model.block_size, device=dev,
                             memory=memory, index=index, rows=batch_size or 8, progress=progress)
        return {"path": str(ck.path), "data": source, "params": model.num_params(), **m}
    if stride is not None and not 0 < stride <= ck.cfg.model.block_size:
        from qtk.errors import UsageError

        raise UsageError(f"--stride must be in 1..{ck.cfg.model.block_size} (the model's context)")
    batch_size, warning = eval_batch(model, ck.cfg.model.block_size, dev, batch_size)
    if warning and notice:
        notice(warning)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    m = evaluate(model, stream, {ck.tokenizer.eot_id}, block_size=ck.cfg.model.block_size, stride=stride,
                 batch_size=batch_size, device=dev, autocast_dtype=autocast_dtype("auto", dev), progress=progress,
                 memory=memory, index=index)
    m.pop("whole", None)
    return {"path": str(ck.path), "data": source, "params": model.num_params(), "batch_size": batch_size, **m}
