"""Bootstrap confidence intervals: refit on training points resampled with replacement (seeded),
and report 95% percentile intervals of every parameter and every derived quantity (predictions,
compute-optimal allocations), as Epoch's Chinchilla replication does for alpha and beta.

Each refit is a local optimisation started from the full-data fit rather than a new grid search:
a resample moves the optimum a little, not to another basin, and this keeps 100 resamples of
500 points within seconds."""

from typing import Callable

import numpy as np

from qtk.tools.scaling.data import Points
from qtk.tools.scaling.engines import fit_form
from qtk.tools.scaling.forms import Form


def bootstrap(form: Form, breaks: int | None, train: Points, params: dict, resamples: int,
              seed: int, derived: Callable[[dict], dict[str, float]]) -> dict:
    """{"resamples", "used", "seed", "ci95": {name: [lo, hi]}} over parameters and derived(params).

    A resample with fewer distinct points than parameters cannot pin the law down and is
    skipped, as is one whose refit fails; "used" says how many counted."""
    rng = np.random.default_rng(seed)
    n = train.y.size
    n_needed = len(params)
    samples: dict[str, list[float]] = {}
    used = 0
    for _ in range(resamples):
        idx = rng.integers(0, n, size=n)
        if np.unique(idx).size < n_needed:
            continue
        fit = fit_form(form, breaks, train.subset(idx), start=params)
        if fit is None:
            continue
        values = {**fit[0], **derived(fit[0])}
        if not all(np.isfinite(v) for v in values.values()):
            continue
        used += 1
        for name, value in values.items():
            samples.setdefault(name, []).append(float(value))
    ci = {name: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]
          for name, v in samples.items()}
    return {"resamples": resamples, "used": used, "seed": seed, "ci95": ci}
