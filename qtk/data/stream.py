"""Streamed batches for models that keep a stream state (a kNN memory): each batch row reads one
long run of the token stream in order, segment after segment, so what a row remembers is the
text before its current segment. A row starts at a document start (drawn at random); documents
follow one another as in the corpus, each beginning with the end-of-text token, which marks
where the model resets that row's memory (`doc_start`). At the end of the split a row wraps to
the beginning. No torch here: batches are numpy arrays."""

from __future__ import annotations

import numpy as np

from qtk.data.shards import TokenStream

SCAN = 1 << 24  # tokens read at a time when looking for document starts


def doc_starts(stream: TokenStream, eot_id: int) -> np.ndarray:
    """Positions of the end-of-text tokens that open each document (int64)."""
    found = [np.flatnonzero(stream.get(lo, min(SCAN, len(stream) - lo)) == eot_id) + lo
             for lo in range(0, len(stream), SCAN)]
    return np.concatenate(found) if found else np.empty(0, np.int64)


class StreamedBatches:
    """(x, y) of shape (rows, T): for each row the next T tokens of its run and their targets."""

    def __init__(self, stream: TokenStream, rows: int, T: int, eot_id: int, rng: np.random.Generator) -> None:
        if len(stream) < T + 2:
            raise ValueError(f"a stream of {len(stream)} tokens is shorter than one segment of {T}")
        self.stream, self.T = stream, T
        starts = doc_starts(stream, eot_id)
        starts = starts[starts + T + 1 <= len(stream)]
        if not len(starts):
            starts = np.zeros(1, np.int64)
        self.cursor = [int(c) for c in rng.choice(starts, size=rows)]

    def next(self) -> tuple[np.ndarray, np.ndarray]:
        """Targets the stream does not score (a task's non-answers, when it says) are -1."""
        rows, begins = [], []
        for r, c in enumerate(self.cursor):
            if c + self.T + 1 > len(self.stream):
                c = 0  # wrap: the split opens with a document start, so the row's memory resets
            rows.append(self.stream.get(c, self.T + 1))
            begins.append(c)
            self.cursor[r] = c + self.T
        block = np.stack(rows)
        x, y = block[:, :-1], block[:, 1:]
        if hasattr(self.stream, "scored"):
            scored = np.stack([self.stream.scored(c + 1, self.T) for c in begins])
            y = np.where(scored, y, -1)
        return x, y
