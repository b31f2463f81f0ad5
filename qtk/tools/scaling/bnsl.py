"""Fitting a broken neural scaling law (and the plain power law, which is BNSL with 0 breaks).

Follows Caballero et al. 2022 (arXiv:2210.14891): a grid search for starting points, then least
squares on log(y + 1). Two changes make it a sound, faster equivalent of the paper's brute grid:
- a and b enter the law linearly, so the grid covers only the exponents, break locations and
  sharpnesses, and solves (a, b) in closed form for each grid point (variable projection);
- for K >= 2 the grid is a beam search: each extra break is gridded on top of the best fits with
  one break fewer, then every parameter is refined jointly (the whole K-dimensional grid would
  cost (9 * 12 * 5)^K evaluations).
The power law uses the same machinery with log(y) residuals (offset 0) and E >= 0.

Internally the parameters are theta = [a, log b', c0, c_1..c_K, log d'_1..log d'_K, log f_1..K]
with log x centred on its mean (b', d' in those centred units) for a well-conditioned problem.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

_C0_GRID = np.array([0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5])
_C_GRID = np.array([-1.0, -0.5, -0.2, 0.2, 0.5, 1.0, 2.0, 4.0, 8.0])
_F_GRID = np.array([0.03, 0.1, 0.3, 1.0, 3.0])
_N_LOCATIONS = 12  # candidate break locations, evenly spaced in log x across the data
_BEAM = 3  # fits with K-1 breaks that seed the search for K breaks
_STARTS = 6  # grid points refined by least squares at each stage
_F_MIN, _F_MAX = 1e-3, 1e3
# well-posed fits converge in well under 100 evaluations; over-parameterised ones (more breaks
# than the data shows) wander along flat valleys, and gain nothing from more. Only the winner
# gets the long polish, for the slow valleys of sharp breaks near the data's end.
_MAX_NFEV, _POLISH_NFEV = 200, 3000


@dataclass
class BnslFit:
    breaks: int
    theta: np.ndarray
    cost: float  # sum of squared log residuals (the objective)
    params: dict  # named parameters in the data's units


@dataclass
class _Problem:
    u: np.ndarray  # log x, centred (n,)
    y: np.ndarray  # (n,)
    u_ref: float
    offset: float  # 1 for BNSL's log(y+1), 0 for log(y)
    a_min: float  # lower bound on a (0 for the power law's E)

    @property
    def target(self) -> np.ndarray:
        return np.log(self.y + self.offset)


def _softplus(z: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, z)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


def _split(theta: np.ndarray, k: int):
    c = theta[3:3 + k]
    ld = theta[3 + k:3 + 2 * k]
    lf = theta[3 + 2 * k:3 + 3 * k]
    return theta[0], theta[1], theta[2], c, ld, lf


def _log_term(theta: np.ndarray, u: np.ndarray, k: int) -> np.ndarray:
    _, lb, c0, c, ld, lf = _split(theta, k)
    out = lb - c0 * u
    for ci, ldi, lfi in zip(c, ld, lf):
        f = np.exp(lfi)
        out = out - ci * f * _softplus((u - ldi) / f)
    return out


def _shifted_prediction(theta: np.ndarray, p: _Problem, k: int) -> np.ndarray:
    """y_hat + offset, floored so that a wild step gives a large residual instead of a NaN."""
    with np.errstate(over="ignore"):
        return np.maximum(theta[0] + np.exp(_log_term(theta, p.u, k)) + p.offset, 1e-300)


def _residuals(theta: np.ndarray, p: _Problem, k: int) -> np.ndarray:
    return np.log(_shifted_prediction(theta, p, k)) - p.target


def _jacobian(theta: np.ndarray, p: _Problem, k: int) -> np.ndarray:
    """d residual / d theta, analytic: keeps noiseless fits exact to ~1e-10."""
    _, _, _, c, ld, lf = _split(theta, k)
    with np.errstate(over="ignore"):
        g = np.exp(_log_term(theta, p.u, k))  # (n,)
    inv = 1.0 / _shifted_prediction(theta, p, k)
    jac = np.empty((p.u.size, theta.size))
    jac[:, 0] = inv
    jac[:, 1] = g * inv
    jac[:, 2] = -p.u * g * inv
    for i, (ci, ldi, lfi) in enumerate(zip(c, ld, lf)):
        f = np.exp(lfi)
        z = (p.u - ldi) / f
        sp, sg = _softplus(z), _sigmoid(z)
        jac[:, 3 + i] = -f * sp * g * inv
        jac[:, 3 + k + i] = ci * sg * g * inv
        jac[:, 3 + 2 * k + i] = -ci * f * (sp - z * sg) * g * inv
    return jac


def _bounds(p: _Problem, k: int) -> tuple[np.ndarray, np.ndarray]:
    span = max(p.u.max() - p.u.min(), 1e-6)
    lo = np.full(3 + 3 * k, -np.inf)
    hi = np.full(3 + 3 * k, np.inf)
    lo[0] = p.a_min
    # a break far outside the data is not identifiable; keep d within one data-span of it
    lo[3 + k:3 + 2 * k], hi[3 + k:3 + 2 * k] = p.u.min() - span, p.u.max() + span
    lo[3 + 2 * k:], hi[3 + 2 * k:] = np.log(_F_MIN), np.log(_F_MAX)
    return lo, hi


def _project_ab(log_g: np.ndarray, p: _Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row of log_g (M, n): the (a, log b) minimising the weighted linear error
    sum w^2 (a + b g - y)^2 with w = 1/(y + offset), which is the log-residual to first order,
    and the exact log-residual cost of that (a, b). Rows with b <= 0 get an infinite cost."""
    top = log_g.max(axis=1, keepdims=True)
    g = np.exp(log_g - top)  # scaled so the largest g per row is 1: b absorbs e^top
    w2 = 1.0 / (p.y + p.offset) ** 2
    s, sg, sgg = w2.sum(), g @ w2, (g * g) @ w2
    sy, sgy = w2 @ p.y, (g * p.y) @ w2
    with np.errstate(divide="ignore", invalid="ignore"):
        b = (s * sgy - sg * sy) / (s * sgg - sg * sg)
        a = (sy - b * sg) / s
        low = a < p.a_min  # the power law's E >= 0: pin a there and re-solve b alone
        a = np.where(low, p.a_min, a)
        b = np.where(low, (sgy - p.a_min * sg) / sgg, b)
        pred = a[:, None] + b[:, None] * g + p.offset
        cost = ((np.log(np.maximum(pred, 1e-300)) - p.target) ** 2).sum(axis=1)
        log_b = np.log(b) + top[:, 0]
    bad = ~(b > 0) | ~np.isfinite(cost)
    cost[bad] = np.inf
    return a, log_b, cost


def _theta_rows(a, log_b, c0, c, ld, lf) -> np.ndarray:
    """Stack grid columns (each (M,) or (M, K)) into theta rows (M, 3 + 3K)."""
    cols = [a[:, None], log_b[:, None], c0[:, None], c, ld, lf]
    return np.hstack([np.reshape(col, (a.size, -1)) for col in cols])


def _grid_power(p: _Problem) -> tuple[np.ndarray, np.ndarray, None]:
    c0 = np.concatenate([[0.0], np.geomspace(0.005, 4.0, 80)])
    a, log_b, cost = _project_ab(-c0[:, None] * p.u[None, :], p)
    empty = np.zeros((c0.size, 0))
    return _theta_rows(a, log_b, c0, empty, empty, empty), cost, None


def _locations(p: _Problem) -> np.ndarray:
    """Candidate log break locations: across the data and a little beyond its right end, where
    a break's onset already bends the last points (the case extrapolation cares about)."""
    lo, hi = p.u.min(), p.u.max()
    return np.linspace(lo, hi + 0.25 * (hi - lo), _N_LOCATIONS + 2)[1:-1]


def _grid_one_break(p: _Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    c0, c1, ld, f = (g.ravel() for g in np.meshgrid(_C0_GRID, _C_GRID, _locations(p), _F_GRID))
    log_g = -c0[:, None] * p.u - (c1 * f)[:, None] * _softplus((p.u - ld[:, None]) / f[:, None])
    a, log_b, cost = _project_ab(log_g, p)
    return _theta_rows(a, log_b, c0, c1[:, None], ld[:, None], np.log(f)[:, None]), cost, ld


def _grid_extra_break(base: np.ndarray, p: _Problem, k: int):
    """Grid a (k+1)-th break on top of a k-break fit, its other shape parameters held."""
    _, _, c0, c, ld, lf = _split(base, k)
    shape = base.copy()
    shape[1] = 0.0  # b is re-solved with the new break
    base_log = _log_term(shape, p.u, k)
    cn, ldn, fn = (g.ravel() for g in np.meshgrid(_C_GRID, _locations(p), _F_GRID))
    log_g = base_log - (cn * fn)[:, None] * _softplus((p.u - ldn[:, None]) / fn[:, None])
    a, log_b, cost = _project_ab(log_g, p)
    m = cn.size
    rows = _theta_rows(a, log_b, np.full(m, c0), np.column_stack([np.tile(c, (m, 1)), cn]),
                       np.column_stack([np.tile(ld, (m, 1)), ldn]),
                       np.column_stack([np.tile(lf, (m, 1)), np.log(fn)]))
    return rows, cost, ldn


def _refine(theta0: np.ndarray, p: _Problem, k: int, max_nfev: int = _MAX_NFEV) -> tuple[np.ndarray, float]:
    lo, hi = _bounds(p, k)
    # least_squares needs a start inside the box; the grid can sit on its edge
    pad = 1e-9 * (1 + np.abs(np.where(np.isfinite(lo), lo, 0.0)))
    x0 = np.clip(np.where(np.isfinite(theta0), theta0, 0.0), lo + pad, hi - pad)
    res = least_squares(_residuals, x0, jac=_jacobian, bounds=(lo, hi), args=(p, k),
                        method="trf", x_scale="jac", ftol=1e-13, xtol=1e-13, gtol=1e-13,
                        max_nfev=max_nfev)
    return res.x, float(np.sum(res.fun ** 2))


def _best_starts(rows: np.ndarray, cost: np.ndarray, count: int,
                 location: np.ndarray | None = None) -> list[np.ndarray]:
    """The `count` cheapest grid points, at most one per break location: the cost surface is
    multimodal mostly in where the breaks sit, so the starts should differ there."""
    order = [i for i in np.argsort(cost, kind="stable") if np.isfinite(cost[i])]
    if location is not None:
        _, first = np.unique(location[order], return_index=True)
        order = [order[j] for j in sorted(first)]
    return [rows[i] for i in order[:count]]


def _refine_all(starts: list[np.ndarray], p: _Problem, k: int) -> list[tuple[np.ndarray, float]]:
    """Refined fits, best first, without the duplicates that several starts converge to."""
    fits = [_refine(s, p, k) for s in starts]
    fits = sorted((fit for fit in fits if np.isfinite(fit[1])), key=lambda fit: fit[1])
    distinct: list[tuple[np.ndarray, float]] = []
    for theta, cost in fits:
        if not any(abs(cost - c) <= 1e-9 * (c + 1e-12) and np.allclose(theta, t, rtol=1e-4, atol=1e-6)
                   for t, c in distinct):
            distinct.append((theta, cost))
    return distinct


def _to_params(theta: np.ndarray, p: _Problem, k: int) -> dict:
    a, lb, c0, c, ld, lf = _split(theta, k)
    params = {"a": float(a), "b": float(np.exp(lb + c0 * p.u_ref)), "c0": float(c0)}
    for i, j in enumerate(np.argsort(ld), start=1):  # number the breaks left to right
        params[f"c{i}"] = float(c[j])
        params[f"d{i}"] = float(np.exp(ld[j] + p.u_ref))
        params[f"f{i}"] = float(np.exp(lf[j]))
    return params


def _from_params(params: dict, p: _Problem, k: int) -> np.ndarray:
    c0 = params["c0"]
    theta = [params["a"], np.log(params["b"]) - c0 * p.u_ref, c0]
    theta += [params[f"c{i}"] for i in range(1, k + 1)]
    theta += [np.log(params[f"d{i}"]) - p.u_ref for i in range(1, k + 1)]
    theta += [np.log(params[f"f{i}"]) for i in range(1, k + 1)]
    return np.array(theta, dtype=float)


def _problem(x: np.ndarray, y: np.ndarray, offset: float, a_min: float) -> _Problem:
    lx = np.log(np.asarray(x, dtype=float))
    u_ref = float(lx.mean())
    return _Problem(u=lx - u_ref, y=np.asarray(y, dtype=float), u_ref=u_ref, offset=offset, a_min=a_min)


def fit_bnsl_path(x: np.ndarray, y: np.ndarray, max_breaks: int, min_breaks: int = 0,
                  offset: float = 1.0, a_min: float = -np.inf) -> dict[int, BnslFit]:
    """Best fit for every K in min_breaks..max_breaks, each K seeded by the best fits for K-1."""
    p = _problem(x, y, offset, a_min)
    fits: dict[int, BnslFit] = {}
    beam: list[tuple[np.ndarray, float]] = []
    # K=1 has its own full grid, so K=0 is only fitted when asked for
    for k in range(0 if min_breaks == 0 else 1, max_breaks + 1):
        if k <= 1:
            rows, cost, where = _grid_power(p) if k == 0 else _grid_one_break(p)
            starts = _best_starts(rows, cost, _STARTS, where)
        else:
            starts = []
            for theta, _ in beam[:_BEAM]:
                rows, cost, where = _grid_extra_break(theta, p, k - 1)
                starts += _best_starts(rows, cost, _STARTS, where)
        beam = _refine_all(starts, p, k)
        if beam and k >= min_breaks:
            theta, c = _refine(beam[0][0], p, k, _POLISH_NFEV)
            fits[k] = BnslFit(k, theta, c, _to_params(theta, p, k))
    return fits


def refit_bnsl(x: np.ndarray, y: np.ndarray, start: dict, breaks: int, offset: float = 1.0,
               a_min: float = -np.inf) -> BnslFit | None:
    """Least squares from one known fit (bootstrap resamples start from the full-data fit)."""
    p = _problem(x, y, offset, a_min)
    fits = _refine_all([_from_params(start, p, breaks)], p, breaks)
    if not fits:
        return None
    theta, c = fits[0]
    return BnslFit(breaks, theta, c, _to_params(theta, p, breaks))
