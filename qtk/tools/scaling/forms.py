"""The scaling-law forms `qtk fit-scaling-law` fits, their parameter names and their predictions.

- `power`:      L = E + A * x^-alpha
- `bnsl:K`:     y = a + b * x^-c0 * prod_i (1 + (x/d_i)^(1/f_i))^(-c_i * f_i), K = 0..3 breaks
                (Caballero et al. 2022, "Broken Neural Scaling Laws", arXiv:2210.14891)
- `chinchilla`: L = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022, approach 3)

Parameters travel as flat dicts keyed by the names in these formulas (c1, d1, f1, c2, ...), in
the data's own units, so a break location d_i reads directly as an x value.
"""

from dataclasses import dataclass

import numpy as np

from qtk.errors import UsageError

MAX_BREAKS = 3
FORM_NAMES = ("power", "bnsl:0", "bnsl:1", "bnsl:2", "bnsl:3", "bnsl:auto", "chinchilla")


@dataclass(frozen=True)
class Form:
    """A parsed --form value. `breaks` is None for power/chinchilla and for bnsl:auto."""

    kind: str  # "power" | "bnsl" | "chinchilla"
    breaks: int | None = None

    @property
    def name(self) -> str:
        if self.kind != "bnsl":
            return self.kind
        return f"bnsl:{'auto' if self.breaks is None else self.breaks}"

    @property
    def two_variable(self) -> bool:
        return self.kind == "chinchilla"


def parse_form(text: str) -> Form:
    """'power' | 'bnsl:K' (K = 0..3) | 'bnsl:auto' | 'chinchilla' -> Form."""
    value = text.strip().lower()
    if value in ("power", "chinchilla"):
        return Form(value)
    if value == "bnsl":
        value = "bnsl:1"
    kind, _, arg = value.partition(":")
    if kind == "bnsl" and arg == "auto":
        return Form("bnsl", None)
    if kind == "bnsl" and arg.isdigit() and int(arg) <= MAX_BREAKS:
        return Form("bnsl", int(arg))
    raise UsageError(f"unknown --form {text!r}; choose one of: {', '.join(FORM_NAMES)}")


def param_names(form: Form, breaks: int | None = None) -> list[str]:
    """Names in formula order; `breaks` fills in K for bnsl:auto once it is chosen."""
    if form.kind == "power":
        return ["E", "A", "alpha"]
    if form.kind == "chinchilla":
        return ["E", "A", "B", "alpha", "beta"]
    k = form.breaks if breaks is None else breaks
    if k is None:
        raise ValueError("bnsl:auto has no fixed parameter list until K is chosen")
    names = ["a", "b", "c0"]
    for i in range(1, k + 1):
        names += [f"c{i}", f"d{i}", f"f{i}"]
    return names


def n_params(form: Form, breaks: int | None = None) -> int:
    return len(param_names(form, breaks))


def _softplus(z: np.ndarray) -> np.ndarray:
    # log(1 + e^z) without overflow: sharp breaks (small f) push z far beyond exp's range
    return np.logaddexp(0.0, z)


def bnsl_log_term(params: dict, x: np.ndarray, breaks: int) -> np.ndarray:
    """log(b * x^-c0 * prod_i (...)), computed in log space so sharp breaks cannot overflow."""
    lx = np.log(np.asarray(x, dtype=float))
    out = np.log(params["b"]) - params["c0"] * lx
    for i in range(1, breaks + 1):
        c, d, f = params[f"c{i}"], params[f"d{i}"], params[f"f{i}"]
        out = out - c * f * _softplus((lx - np.log(d)) / f)
    return out


def count_breaks(params: dict) -> int:
    return sum(1 for key in params if key.startswith("d") and key[1:].isdigit())


def predict(form: Form, params: dict, x: np.ndarray | None = None,
            n: np.ndarray | None = None, d: np.ndarray | None = None) -> np.ndarray:
    """y at x (power, bnsl) or at (N, D) (chinchilla), from named parameters."""
    if form.kind == "chinchilla":
        n, d = np.asarray(n, dtype=float), np.asarray(d, dtype=float)
        return params["E"] + params["A"] / n ** params["alpha"] + params["B"] / d ** params["beta"]
    if form.kind == "power":
        named = {"a": params["E"], "b": params["A"], "c0": params["alpha"]}
        return named["a"] + np.exp(bnsl_log_term(named, x, 0))
    with np.errstate(over="ignore"):  # a wild fit far outside the data predicts inf, not a warning
        return params["a"] + np.exp(bnsl_log_term(params, x, count_breaks(params)))


def compute_optimal(params: dict, budget: float) -> dict:
    """Chinchilla's compute-optimal allocation for C = 6ND FLOPs (Hoffmann et al. 2022, eq. 4):
    N_opt = G (C/6)^(beta/(alpha+beta)), G = (alpha A / (beta B))^(1/(alpha+beta)), D = C/(6N)."""
    alpha, beta = params["alpha"], params["beta"]
    g = (alpha * params["A"] / (beta * params["B"])) ** (1.0 / (alpha + beta))
    n_opt = g * (budget / 6.0) ** (beta / (alpha + beta))
    d_opt = budget / (6.0 * n_opt)
    loss = float(predict(Form("chinchilla"), params, n=np.array(n_opt), d=np.array(d_opt)))
    return {"C": float(budget), "N_opt": float(n_opt), "D_opt": float(d_opt), "loss": loss}
