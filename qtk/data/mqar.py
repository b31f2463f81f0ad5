"""`mqar`: multi-query associative recall, a seeded synthetic task (Zoology, Arora et al. 2023,
arXiv 2312.04927, its `multiquery_ar` generator): each sample is `pairs` key-value pairs, then
a query section where every key comes back once, at a power-law distributed gap, among random
noise tokens; the model must predict the key's value there. Only those answer positions are
scored (every other target is -1), so loss and accuracy measure recall alone.

Tokens are byte-tokenizer ids: keys from 0..127, values from 128..255, noise anywhere in 0..255;
each sample starts with <|endoftext|> (a document start, where recurrent layers reset). The
train and validation sets come from different seeds. No torch here (numpy).
"""

from __future__ import annotations

import numpy as np

from qtk.data.tasks import TaskStream
from qtk.data.tokenizer import ByteTokenizer
from qtk.errors import UsageError

NAME = "mqar"
KEYS, VOCAB = 128, 256
POWER_A = 0.01  # Zoology's default exponent of the gap distribution


def samples(n: int, seq_len: int, pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(tokens, scored), each (n, seq_len + 1): <|endoftext|>, k1 v1 .. kN vN, then the queries."""
    if seq_len < 4 * pairs:
        raise UsageError(f"data.mqar.seq_len ({seq_len}) must be >= 4 * data.mqar.pairs ({4 * pairs}): "
                         "the pairs and one query per key must fit")
    rng = np.random.default_rng(seed)
    context = 2 * pairs
    space = (seq_len - context) // 2  # query slots: a key at an even offset, its answer after it
    p = POWER_A * np.arange(1, space + 1) ** (POWER_A - 1)
    p /= p.sum()
    toks = rng.integers(0, VOCAB, size=(n, seq_len + 1))  # noise everywhere first
    toks[:, 0] = ByteTokenizer.eot_id
    scored = np.zeros((n, seq_len + 1), dtype=bool)
    rows = np.arange(n)[:, None]
    keys = np.argsort(rng.random((n, KEYS)), axis=1)[:, :pairs]  # distinct keys per sample
    values = rng.integers(KEYS, VOCAB, size=(n, pairs))
    toks[rows, 1 + 2 * np.arange(pairs)] = keys
    toks[rows, 2 + 2 * np.arange(pairs)] = values
    gaps = np.stack([rng.choice(space, pairs, replace=False, p=p) for _ in range(n)])  # (n, pairs)
    at = 1 + context + 2 * gaps  # where each key is queried
    toks[rows, at] = keys
    toks[rows, at + 1] = values
    scored[rows, at + 1] = True
    return toks, scored


def stream(n: int, seq_len: int, pairs: int, seed: int) -> TaskStream:
    toks, scored = samples(n, seq_len, pairs, seed)
    return TaskStream(toks.reshape(-1).astype(np.uint16), scored.reshape(-1), seq_len + 1)


def splits(cfg) -> tuple[TaskStream, TaskStream]:
    """(train, val) for a DataConfig's `mqar` settings; val from another seed."""
    m = cfg.mqar
    return (stream(m.train_samples, m.seq_len, m.pairs, 2 * m.seed),
            stream(m.val_samples, m.seq_len, m.pairs, 2 * m.seed + 1))
