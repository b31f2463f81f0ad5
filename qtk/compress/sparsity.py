"""Sparsity specs and pruning masks.

Scores: magnitude |W_ij|, or Wanda (Sun et al. 2023, "A Simple and Effective Pruning Approach for
Large Language Models") |W_ij|·‖X_j‖₂ with X the calibration inputs of the layer. Weights with
the lowest scores are zeroed, compared within each output row (unstructured) or within each
group of M consecutive inputs (N:M, keep N). No weight update.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from qtk.errors import QtkError, UsageError

TOLERANCE = 1e-4  # |achieved - target| as a share of the weights: 0.01%


@dataclass(frozen=True)
class Sparsity:
    text: str
    fraction: float        # share of weights set to zero
    n: int = 0             # N:M: keep n of every m (0 = unstructured)
    m: int = 0

    @property
    def structured(self) -> bool:
        return self.m > 0


def parse(text: str) -> Sparsity:
    """'0.5' / '50%' (unstructured) or 'N:M' such as '2:4', '4:8' (keep N of every M)."""
    s = str(text).strip()
    nm = re.fullmatch(r"(\d+):(\d+)", s)
    if nm:
        n, m = int(nm.group(1)), int(nm.group(2))
        if not 0 < n < m:
            raise UsageError(f"--sparsity {text!r}: N:M needs 0 < N < M (keep N weights of every M), e.g. 2:4")
        return Sparsity(s, 1 - n / m, n, m)
    try:
        frac = float(s[:-1]) / 100 if s.endswith("%") else float(s)
    except ValueError:
        raise UsageError(f"--sparsity {text!r}: expected a fraction such as 0.5, a percentage such as 50%, "
                         f"or N:M such as 2:4") from None
    if not 0.0 < frac < 1.0:
        raise UsageError(f"--sparsity {text!r}: the fraction of weights to zero must be between 0 and 1")
    return Sparsity(s, frac)


def scores(weight: torch.Tensor, method: str, col_norm: torch.Tensor | None = None) -> torch.Tensor:
    """Importance of each weight (out, in); low scores are pruned."""
    w = weight.detach().abs().float()
    if method == "magnitude":
        return w
    if method == "wanda":
        if col_norm is None:
            raise QtkError("wanda needs the calibration input norms of the layer")
        return w * col_norm.to(w.device)[None, :]
    raise UsageError(f"--method {method!r}: expected magnitude or wanda")


def prune_count(numel: int, fraction: float) -> int:
    return int(round(numel * fraction))


def mask(score: torch.Tensor, sp: Sparsity, name: str = "") -> torch.Tensor:
    """Bool (out, in): True where the weight is zeroed."""
    rows, cols = score.shape
    if sp.structured:
        if cols % sp.m:
            raise UsageError(f"{name}: {cols} input features are not a multiple of M={sp.m} for {sp.text} sparsity")
        groups = score.reshape(rows, cols // sp.m, sp.m)
        drop = groups.topk(sp.m - sp.n, dim=-1, largest=False).indices
        out = torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, drop, True)
        return out.reshape(rows, cols)
    # Exactly round(numel·s) zeros in all, spread so that rows differ by at most one.
    total = prune_count(rows * cols, sp.fraction)
    per_row = torch.full((rows,), total // rows, dtype=torch.long)
    per_row[: total % rows] += 1
    rank = score.argsort(dim=1, stable=True).argsort(dim=1)  # 0 = lowest score in the row
    return rank < per_row.to(score.device)[:, None]


def allowed(numel: int) -> float:
    """0.01%, or half a weight where a tensor is too small to get that close."""
    return max(TOLERANCE, 0.5 / numel + 1e-9)


def check(weight: torch.Tensor, sp: Sparsity, name: str) -> float:
    """Raise unless the achieved sparsity is within 0.01% of the target and every N:M group is
    valid; returns the achieved sparsity."""
    zeros = (weight == 0)
    achieved = zeros.float().mean().item()
    if abs(achieved - sp.fraction) > allowed(weight.numel()):
        raise QtkError(f"{name}: achieved sparsity {achieved:.4%} is not within 0.01% of the target "
                       f"{sp.fraction:.4%} (the layer may already hold more zeros than the target)")
    if sp.structured:
        rows, cols = weight.shape
        nonzero = (~zeros).reshape(rows, cols // sp.m, sp.m).sum(-1)
        bad = int((nonzero > sp.n).sum().item())
        if bad:
            raise QtkError(f"{name}: {bad} groups of {sp.m} hold more than {sp.n} non-zeros ({sp.text} violated)")
    return achieved
