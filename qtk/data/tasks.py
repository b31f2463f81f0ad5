"""Synthetic tasks that stand in for a corpus by name (`--data mqar`, `--data passkey`, or
data.corpus): each is a module with NAME and `splits(data_cfg) -> (train, val)`, written in
byte-tokenizer ids. A split is a TaskStream: one token sequence plus the positions whose token is
a scored target. No torch here (numpy)."""

from __future__ import annotations

import importlib

import numpy as np

from qtk.data.tokenizer import ByteTokenizer, Tokenizer, fingerprint
from qtk.errors import UsageError

TASKS = {"mqar": "qtk.data.mqar", "passkey": "qtk.data.passkey"}


class TaskStream:
    """A split as one token sequence, with the positions whose token is a scored target
    (`scored`); `sample_len` > 0 when every sample has that length (windows then start at one).
    Same reading interface as shards.TokenStream."""

    def __init__(self, tokens: np.ndarray, scored: np.ndarray, sample_len: int) -> None:
        self.tokens, self.scored_mask, self.sample_len = tokens, scored, sample_len
        self.n_bytes = len(tokens)  # byte-token ids: one byte each (bits per byte is not the point here)

    def __len__(self) -> int:
        return len(self.tokens)

    def get(self, start: int, length: int) -> np.ndarray:
        if start + length > len(self.tokens):
            raise IndexError(f"token {start + length} past the end ({len(self.tokens)})")
        return self.tokens[start:start + length].astype(np.int64)

    def scored(self, start: int, length: int) -> np.ndarray:
        """Bool (length,): the token at each position is an answer (a scored target)."""
        return self.scored_mask[start:start + length]


def named(cfg) -> str | None:
    """The task a DataConfig asks for (data.path or, without a path, data.corpus), or None."""
    name = cfg.path or cfg.corpus
    return name if name in TASKS else None


def _tokenizer(name: str, cfg, tokenizer: Tokenizer | None) -> Tokenizer:
    if tokenizer is None and cfg.tokenizer != "byte":
        raise UsageError(f"data.tokenizer: the {name} task is written in byte-tokenizer ids: use data.tokenizer = byte")
    tok = tokenizer or ByteTokenizer()
    if fingerprint(tok) != fingerprint(ByteTokenizer()):
        raise UsageError(f"--data {name}: the task is written in byte-tokenizer ids; this model uses "
                         f"the {tok.name!r} tokenizer (train it with data.tokenizer = byte)")
    return tok


def splits(name: str, cfg, tokenizer: Tokenizer | None) -> tuple[Tokenizer, TaskStream, TaskStream]:
    """(tokenizer, train, val) of task `name` for a DataConfig; byte-tokenizer models only."""
    tok = _tokenizer(name, cfg, tokenizer)
    train, val = importlib.import_module(TASKS[name]).splits(cfg)
    return tok, train, val


def test_split(name: str, cfg, tokenizer: Tokenizer) -> tuple[TaskStream, str]:
    """What `qtk eval --data NAME` scores, and its label: the task's `test_split` when it has one
    (passkey: the long distances, too slow for evaluation during training), else its val split."""
    _tokenizer(name, cfg, tokenizer)
    module = importlib.import_module(TASKS[name])
    if hasattr(module, "test_split"):
        return module.test_split(cfg), f"{name} (test)"
    return module.splits(cfg)[1], f"{name} (val)"
