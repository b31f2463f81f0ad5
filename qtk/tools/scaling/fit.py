"""`fit_scaling_law`: the whole job behind `qtk fit-scaling-law` -- split off held-out points, fit
the form (choosing K for bnsl:auto), score train and held-out RMSLE, bootstrap, and predict."""

import time
from dataclasses import dataclass, field, replace

import numpy as np
from threadpoolctl import threadpool_limits

from qtk.errors import UsageError
from qtk.tools.scaling.bootstrap import bootstrap
from qtk.tools.scaling.data import Points
from qtk.tools.scaling.engines import OBJECTIVES, fit_bnsl_all, fit_form, predict_points, rmsle
from qtk.tools.scaling.forms import MAX_BREAKS, Form, compute_optimal, n_params, predict

_VALIDATION_MIN_POINTS = 12  # below this bnsl:auto uses AICc: a 20% tail would be 2 points


@dataclass
class ScalingFit:
    form: Form
    breaks: int | None
    params: dict
    objective_value: float
    points: Points  # all rows, .test marks the held-out ones
    rmsle_train: float | None
    rmsle_holdout: float | None
    selection: dict | None = None
    bootstrap: dict | None = None
    predictions: list[dict] = field(default_factory=list)
    budgets: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def form_name(self) -> str:
        return self.form.name if self.breaks is None else f"bnsl:{self.breaks}"

    def to_dict(self) -> dict:
        """The --json document: parameters flat (E, A, alpha / a, b, c0, c1, d1, f1, ...) and
        again under "params"; breaks also as a list of {c, d, f}, d in the x column's units."""
        out = {"form": self.form_name, "requested_form": self.form.name, **self.params,
               "params": dict(self.params), "columns": self.points.names,
               "n_points": int(self.points.y.size), "n_train": int((~self.points.test).sum()),
               "n_holdout": int(self.points.test.sum()), "objective": OBJECTIVES[self.form.kind],
               "objective_value": self.objective_value, "rmsle_train": self.rmsle_train}
        if self.breaks is not None:
            out["breaks"] = [{"c": self.params[f"c{i}"], "d": self.params[f"d{i}"],
                              "f": self.params[f"f{i}"]} for i in range(1, self.breaks + 1)]
        if self.points.test.any():
            out["rmsle_holdout"] = self.rmsle_holdout
        for key in ("selection", "bootstrap"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.predictions:
            out["predictions"] = self.predictions
        if self.budgets:
            out["budgets"] = self.budgets
        out["seconds"] = round(self.seconds, 3)
        return out


def parse_numbers(text: str | None, what: str) -> list[float]:
    """'1e21,1e22' -> [1e21, 1e22], all positive."""
    if not text:
        return []
    values = []
    for item in text.split(","):
        try:
            value = float(item)
        except ValueError:
            raise UsageError(f"{what}: {item.strip()!r} is not a number") from None
        if not value > 0 or not np.isfinite(value):
            raise UsageError(f"{what}: values must be positive, got {item.strip()!r}")
        values.append(value)
    return values


def parse_predict(text: str | None, form: Form) -> list[tuple[float, ...]]:
    """--predict: x values ('1e21,1e22'), or N:D pairs ('7e10:1.4e12') for chinchilla."""
    if not text:
        return []
    if not form.two_variable:
        return [(v,) for v in parse_numbers(text, "--predict")]
    pairs = []
    for item in text.split(","):
        n, sep, d = item.partition(":")
        if not sep:
            raise UsageError(f"--predict for chinchilla takes N:D pairs (e.g. 7e10:1.4e12), got {item!r}; "
                             "use --budget C for the compute-optimal N and D")
        pairs.append(tuple(parse_numbers(f"{n},{d}", "--predict")))
    return pairs


def _holdout_mask(points: Points, holdout_last: int) -> np.ndarray:
    if holdout_last <= 0:
        return points.test
    if points.test.any():
        raise UsageError("give --holdout-last or --split, not both")
    if holdout_last >= points.y.size:
        raise UsageError(f"--holdout-last {holdout_last} leaves no training points (the data has {points.y.size})")
    order = np.argsort(points.order_key, kind="stable")
    mask = np.zeros(points.y.size, dtype=bool)
    mask[order[-holdout_last:]] = True
    return mask


def _check_enough(form: Form, breaks: int | None, train: Points) -> None:
    need = n_params(form, 0 if breaks is None else breaks)
    if train.y.size < need:
        raise UsageError(f"{form.name} has {need} parameters but only {train.y.size} training points; "
                         f"it needs at least {need}")
    names = train.names
    spread = ({names.get("x", "x"): train.x} if not form.two_variable
              else {names.get("n", "N"): train.n, names.get("d", names.get("c", "D")): train.d})
    for name, values in spread.items():
        if np.unique(values).size < 2:
            raise UsageError(f"column {name!r} has a single value over the training points; "
                             "a scaling law needs them spread along it")


def _aicc(cost: float, n: int, p: int) -> float:
    # noiseless data drives the residual to ~0; the floor makes such fits tie, so the
    # parameter penalty then picks the fewest breaks
    rss = max(cost / n, 1e-24)
    return n * np.log(rss) + 2 * p + 2 * p * (p + 1) / max(n - p - 1, 1)


def _select_breaks(train: Points, select: str) -> tuple[int, dict]:
    """K for bnsl:auto, by RMSLE on the last 20% of the training points (by x) after fitting the
    rest -- extrapolation, as the law will be used -- or by AICc on the whole training set."""
    n = train.y.size
    criterion = select if select != "auto" else ("validation" if n >= _VALIDATION_MIN_POINTS else "aic")
    max_k = max(k for k in range(MAX_BREAKS + 1) if n_params(Form("bnsl", k)) <= n)
    if criterion == "aic":
        fits = fit_bnsl_all(train, max_k)
        scores = {k: _aicc(cost, n, n_params(Form("bnsl", k))) for k, (_, cost) in fits.items()}
        best = min(scores, key=lambda k: (scores[k], k))
        return best, {"criterion": "aicc", "scores": scores, "chosen_breaks": best}
    n_val = max(2, round(0.2 * n))
    order = np.argsort(train.x, kind="stable")
    val = np.zeros(n, dtype=bool)
    val[order[-n_val:]] = True
    fold = train.subset(~val)
    max_k = max(k for k in range(max_k + 1) if n_params(Form("bnsl", k)) <= fold.y.size)
    fits = fit_bnsl_all(fold, max_k)
    scores = {k: rmsle(predict(Form("bnsl", k), p, x=train.x[val]), train.y[val]) for k, (p, _) in fits.items()}
    ranked = {k: (np.inf if s is None else s) for k, s in scores.items()}
    floor = min(ranked.values())
    # fewest breaks among the (near-)best: extra breaks that do not help extrapolation are noise
    best = min(k for k, s in ranked.items() if s <= floor * 1.01 + 1e-6)
    return best, {"criterion": "validation", "validation_points": n_val, "scores": scores,
                  "chosen_breaks": best}


def _derived(form: Form, params: dict, at: list[tuple[float, ...]], budgets: list[float]) -> dict:
    """Predictions and compute-optimal allocations as flat name -> value (for the bootstrap)."""
    out = {}
    for i, point in enumerate(at):
        if form.two_variable:
            out[f"pred{i}"] = float(predict(form, params, n=np.array(point[0]), d=np.array(point[1])))
        else:
            out[f"pred{i}"] = float(predict(form, params, x=np.array(point[0])))
    for i, budget in enumerate(budgets):
        for key, value in compute_optimal(params, budget).items():
            if key != "C":
                out[f"budget{i}.{key}"] = value
    return out


def _render_derived(form: Form, points: Points, at: list[tuple[float, ...]], budgets: list[float],
                    values: dict, ci: dict) -> tuple[list[dict], list[dict]]:
    train = points.subset(~points.test)
    lo_key = train.order_key.min()
    hi_key = train.order_key.max()
    predictions = []
    for i, point in enumerate(at):
        row = ({"N": point[0], "D": point[1], "C": 6.0 * point[0] * point[1]} if form.two_variable
               else {"x": point[0]})
        key = row.get("C", row.get("x"))
        row.update({"y": values[f"pred{i}"], "extrapolated": bool(key > hi_key or key < lo_key)})
        if f"pred{i}" in ci:
            row["ci95"] = ci[f"pred{i}"]
        predictions.append(row)
    rows = []
    for i, budget in enumerate(budgets):
        row = {"C": budget, **{k: values[f"budget{i}.{k}"] for k in ("N_opt", "D_opt", "loss")}}
        row.update({f"{k}_ci95": ci[f"budget{i}.{k}"] for k in ("N_opt", "D_opt", "loss")
                    if f"budget{i}.{k}" in ci})
        rows.append(row)
    return predictions, rows


def fit_scaling_law(points: Points, form: Form, holdout_last: int = 0, resamples: int = 0,
                    seed: int = 0, predict_at: list[tuple[float, ...]] | None = None,
                    budgets: list[float] | None = None, select: str = "auto") -> ScalingFit:
    """Fit `form` to the training rows of `points` and measure it on the held-out rows."""
    # Every linear-algebra call here is tiny (5-12 parameters); a multi-threaded BLAS only adds
    # thread hand-offs, which on a busy machine made a 0.7 s fit take 20 s.
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit_scaling_law(points, form, holdout_last, resamples, seed, predict_at, budgets, select)


def _fit_scaling_law(points: Points, form: Form, holdout_last: int, resamples: int, seed: int,
                     predict_at: list[tuple[float, ...]] | None, budgets: list[float] | None,
                     select: str) -> ScalingFit:
    start = time.perf_counter()
    predict_at, budgets = predict_at or [], budgets or []
    if budgets and form.kind != "chinchilla":
        raise UsageError("--budget gives the compute-optimal N and D of a chinchilla fit; "
                         f"use --predict X with --form {form.name}")
    if select not in ("auto", "validation", "aic"):
        raise UsageError(f"unknown --select {select!r}; choose auto, validation or aic")
    points = replace(points, test=_holdout_mask(points, holdout_last))
    train, held = points.subset(~points.test), points.subset(points.test)
    breaks, selection = form.breaks, None
    _check_enough(form, breaks, train)
    if form.kind == "bnsl" and breaks is None:
        breaks, selection = _select_breaks(train, select)
    params, objective = fit_form(form, breaks, train)
    result = ScalingFit(form, breaks, params, objective, points,
                        rmsle(predict_points(form, params, train), train.y),
                        rmsle(predict_points(form, params, held), held.y) if held.y.size else None,
                        selection)
    ci = {}
    if resamples > 0:
        result.bootstrap = bootstrap(form, breaks, train, params, resamples, seed,
                                     lambda p: _derived(form, p, predict_at, budgets))
        ci = result.bootstrap["ci95"]
        result.bootstrap["ci95"] = {k: v for k, v in ci.items() if k in params}
    result.predictions, result.budgets = _render_derived(
        form, points, predict_at, budgets, _derived(form, params, predict_at, budgets), ci)
    result.seconds = time.perf_counter() - start
    return result
