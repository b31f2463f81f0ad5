"""Scaling-law fitting for `qtk fit-scaling-law`: power laws, broken neural scaling laws
(Caballero et al. 2022) and Chinchilla's L(N, D) (Hoffmann et al. 2022; Besiroglu et al. 2024).

    data.py        CSV/JSON loading, column selection and validation
    forms.py       the formulas, their parameter names, predictions, compute-optimal N and D
    bnsl.py        grid + least-squares fitting of BNSL (and the power law, BNSL with 0 breaks)
    chinchilla.py  Huber/L-BFGS fitting of L(N, D) from a grid of starts
    engines.py     one fit of a named form; RMSLE
    bootstrap.py   seeded percentile confidence intervals
    fit.py         the whole job: hold-out, K selection, metrics, bootstrap, predictions
    plot.py        the --plot figure (matplotlib, optional)
"""

from qtk.tools.scaling.data import Points, load_table, select_points, split_column
from qtk.tools.scaling.fit import ScalingFit, fit_scaling_law, parse_numbers, parse_predict
from qtk.tools.scaling.forms import Form, parse_form

__all__ = ["Form", "Points", "ScalingFit", "fit_scaling_law", "load_table", "parse_form",
           "parse_numbers", "parse_predict", "select_points", "split_column"]
