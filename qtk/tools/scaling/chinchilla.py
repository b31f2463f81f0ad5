"""Fitting L(N, D) = E + A/N^alpha + B/D^beta as in Chinchilla's approach 3 (Hoffmann et al. 2022)
and Epoch AI's replication (Besiroglu et al. 2024, arXiv:2404.10102).

The law is parameterised by a = log A, b = log B, e = log E so that
    log L_hat = LSE(a - alpha log N, b - beta log D, e),
and fitted by minimising the *sum* over points of Huber_delta(log L_hat - log L), delta = 1e-3,
with L-BFGS-B from a grid of starting points: a, b in {0, 5, .., 25}, e in {-1, -.5, .., 1},
alpha, beta in {0, .5, .., 2}. Running L-BFGS from all 4,500 grid points is slow (~60 s for 240
points); the objective is evaluated on the whole grid first and L-BFGS runs from the best few
dozen points, which on Epoch's data reaches the same optimum as the full sweep (it is found
from the 5th-best start).
"""

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

HUBER_DELTA = 1e-3
_GRID = np.array(list(itertools.product(
    np.arange(0, 30, 5.0), np.arange(0, 30, 5.0), np.arange(-1, 1.5, 0.5),
    np.arange(0, 2.5, 0.5), np.arange(0, 2.5, 0.5))))  # rows: (a, b, e, alpha, beta)
_STARTS = 24


@dataclass
class ChinchillaFit:
    theta: np.ndarray  # (a, b, e, alpha, beta)
    loss: float  # summed Huber loss
    params: dict  # E, A, B, alpha, beta


def _terms(theta: np.ndarray, log_n: np.ndarray, log_d: np.ndarray) -> np.ndarray:
    a, b, e, alpha, beta = theta
    return np.stack([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)])  # (3, n)


def _lse(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log-sum-exp over axis 0 and the softmax weights (its gradient); plain numpy because
    scipy.special's array-API wrappers cost more than the arithmetic at this size."""
    m = t.max(axis=0)
    z = np.exp(t - m)
    total = z.sum(axis=0)
    return m + np.log(total), z / total


def _huber(r: np.ndarray) -> np.ndarray:
    ar = np.abs(r)
    return np.where(ar <= HUBER_DELTA, 0.5 * r * r, HUBER_DELTA * (ar - 0.5 * HUBER_DELTA))


def _objective(theta: np.ndarray, log_n: np.ndarray, log_d: np.ndarray,
               log_y: np.ndarray) -> tuple[float, np.ndarray]:
    """Summed Huber loss and its gradient (d LSE / d term is the softmax weight of that term)."""
    lse, weights = _lse(_terms(theta, log_n, log_d))
    r = lse - log_y
    dr = np.clip(r, -HUBER_DELTA, HUBER_DELTA)  # Huber's derivative
    w = weights * dr  # (3, n)
    grad = np.array([w[0].sum(), w[1].sum(), w[2].sum(), -(w[0] @ log_n), -(w[1] @ log_d)])
    return float(_huber(r).sum()), grad


def _grid_losses(log_n: np.ndarray, log_d: np.ndarray, log_y: np.ndarray) -> np.ndarray:
    a, b, e, alpha, beta = (_GRID[:, i:i + 1] for i in range(5))
    t = np.stack([a - alpha * log_n, b - beta * log_d, np.broadcast_to(e, (len(_GRID), log_n.size))])
    return _huber(_lse(t)[0] - log_y).sum(axis=1)


def _to_params(theta: np.ndarray) -> dict:
    a, b, e, alpha, beta = (float(v) for v in theta)
    return {"E": float(np.exp(e)), "A": float(np.exp(a)), "B": float(np.exp(b)),
            "alpha": alpha, "beta": beta}


def _from_params(params: dict) -> np.ndarray:
    return np.array([np.log(params["A"]), np.log(params["B"]), np.log(params["E"]),
                     params["alpha"], params["beta"]])


def _lbfgs(theta0: np.ndarray, args: tuple) -> tuple[np.ndarray, float]:
    res = minimize(_objective, theta0, args=args, jac=True, method="L-BFGS-B",
                   options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-12})
    return res.x, float(res.fun)


def fit_chinchilla(n: np.ndarray, d: np.ndarray, y: np.ndarray,
                   start: dict | None = None, grid_starts: int = _STARTS) -> ChinchillaFit:
    """Best of L-BFGS runs from the `grid_starts` best grid points (plus `start`, if given)."""
    args = (np.log(n), np.log(d), np.log(y))
    starts = []
    if grid_starts > 0:
        losses = _grid_losses(*args)
        starts = [_GRID[i] for i in np.argsort(losses, kind="stable")[:grid_starts]]
    if start is not None:
        starts.insert(0, _from_params(start))
    best_theta, best_loss = None, np.inf
    for theta0 in starts:
        theta, loss = _lbfgs(np.array(theta0, dtype=float), args)
        if np.isfinite(loss) and loss < best_loss - 1e-15:
            best_theta, best_loss = theta, loss
    return ChinchillaFit(best_theta, best_loss, _to_params(best_theta))
