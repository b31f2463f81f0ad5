"""One fit of one form to one set of points, by name: the step the main fit, the K selection of
bnsl:auto and every bootstrap resample share. Parameters come back named as in the formulas."""

import numpy as np

from qtk.errors import QtkError
from qtk.tools.scaling.bnsl import fit_bnsl_path, refit_bnsl
from qtk.tools.scaling.chinchilla import fit_chinchilla
from qtk.tools.scaling.data import Points
from qtk.tools.scaling.forms import Form, predict

OBJECTIVES = {
    "power": "least squares on log(y), E >= 0",
    "bnsl": "least squares on log(y + 1) (Caballero et al. 2022)",
    "chinchilla": "summed Huber loss, delta = 1e-3, on log-loss residuals (Hoffmann et al. 2022)",
}
_POWER_NAMES = {"a": "E", "b": "A", "c0": "alpha"}


def _power_from_bnsl(params: dict) -> dict:
    return {_POWER_NAMES[k]: v for k, v in params.items()}


def _bnsl_from_power(params: dict) -> dict:
    return {k: params[v] for k, v in _POWER_NAMES.items()}


def fit_form(form: Form, breaks: int | None, points: Points,
             start: dict | None = None) -> tuple[dict, float] | None:
    """(named parameters, objective value); `start` (a previous fit) turns the global search
    into a local refinement from there, as the bootstrap does. None if a refinement fails."""
    if form.kind == "chinchilla":
        fit = fit_chinchilla(points.n, points.d, points.y, start=start,
                             grid_starts=0 if start is not None else 24)
        return fit.params, fit.loss
    power = form.kind == "power"
    k = 0 if power else breaks
    offset, a_min = (0.0, 0.0) if power else (1.0, -np.inf)
    if start is not None:
        named = _bnsl_from_power(start) if power else start
        fit = refit_bnsl(points.x, points.y, named, k, offset, a_min)
        if fit is None:
            return None
    else:
        fits = fit_bnsl_path(points.x, points.y, k, min_breaks=k, offset=offset, a_min=a_min)
        if k not in fits:
            raise QtkError(f"{form.name}: every least-squares start failed on these points")
        fit = fits[k]
    return (_power_from_bnsl(fit.params) if power else fit.params), fit.cost


def fit_bnsl_all(points: Points, max_breaks: int) -> dict[int, tuple[dict, float]]:
    """bnsl:K fits for every K up to max_breaks at once (bnsl:auto shares the grid work)."""
    fits = fit_bnsl_path(points.x, points.y, max_breaks)
    return {k: (f.params, f.cost) for k, f in fits.items()}


def predict_points(form: Form, params: dict, points: Points) -> np.ndarray:
    if form.kind == "chinchilla":
        return predict(form, params, n=points.n, d=points.d)
    return predict(form, params, x=points.x)


def rmsle(pred: np.ndarray, y: np.ndarray) -> float | None:
    """sqrt(mean((log y_hat - log y)^2)), the metric the BNSL paper reports (None if y_hat <= 0
    somewhere, where the log is undefined)."""
    if y.size == 0 or not np.all(pred > 0):
        return None
    return float(np.sqrt(np.mean((np.log(pred) - np.log(y)) ** 2)))
