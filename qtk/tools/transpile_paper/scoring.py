"""Score transpile-paper on a corpus of pseudo-code blocks with known answers.

A corpus is a folder of `.tex` files plus `cases.json`: for each file, the failure class it
exercises (macros, phrases, loops, headers, indexing), which function to call, and input ->
expected-output runs. Each block is transpiled, executed, and called on every run; the outcome is
one of ok, refused (UsageError), todo (some line not translated), error (an exception while
running), timeout, or wrong (a run returned something else). Used by the real-style corpus test
and by `bench/transpile_real.py`.
"""

from __future__ import annotations

import ast

import copy
import json
import math
import re
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from qtk.errors import UsageError

OUTCOMES = ("ok", "refused", "todo", "error", "timeout", "wrong")
CLASSES = ("macros", "phrases", "loops", "headers", "indexing")


@dataclass
class Case:
    file: str
    klass: str
    runs: list[tuple[list, object]]
    result: str = "return"  # return | arg0, arg1, .. (that argument, changed in place) | values_by_first_arg
    # | values_by_vertex (a map returned, compared by its values at the items of the first argument,
    # or at the vertices 0, 1, ...: d[v] for v in V)
    entry: str | None = None
    approx: bool = False


@dataclass
class Outcome:
    case: Case
    status: str
    detail: str = ""


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def correct(self) -> int:
        return sum(o.status == "ok" for o in self.outcomes)

    @property
    def rate(self) -> float:
        return self.correct / len(self.outcomes) if self.outcomes else 0.0

    def by_class(self) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = {}
        for o in self.outcomes:
            row = table.setdefault(o.case.klass, {k: 0 for k in ("n", *OUTCOMES)})
            row["n"] += 1
            row[o.status] += 1
        return dict(sorted(table.items(), key=lambda kv: CLASSES.index(kv[0]) if kv[0] in CLASSES else 99))

    def markdown(self) -> str:
        lines = ["| class | blocks | " + " | ".join(OUTCOMES) + " |",
                 "|---|---:|" + "---:|" * len(OUTCOMES)]
        for klass, row in self.by_class().items():
            lines.append(f"| {klass} | {row['n']} | " + " | ".join(str(row[k]) for k in OUTCOMES) + " |")
        total = {k: sum(o.status == k for o in self.outcomes) for k in OUTCOMES}
        lines.append(f"| **all** | {len(self.outcomes)} | " + " | ".join(str(total[k]) for k in OUTCOMES) + " |")
        return "\n".join(lines)


# Functions a block takes as input (a gradient, a weight function), named in cases.json as "fn:NAME".
FUNCTIONS = {
    "grad_square_minus_3": lambda x: 2 * (x - 3),  # gradient of (x - 3)^2
    "cube_minus_2": lambda x: x ** 3 - 2,
    "cube_minus_2_prime": lambda x: 3 * x ** 2,  # its derivative
    "square": lambda x: x * x,
    "edge_weight": lambda u, v: abs(u - v) + 1,
    "at_least_5": lambda x: x >= 5,
}


def _decode(value):
    """JSON has no infinity, functions, sets, tuples or objects: "inf" stands for math.inf, "fn:NAME"
    for FUNCTIONS[NAME], {"set": [...]} for a set, {"tuple": [...]} for a tuple (a grid cell used
    as a map key) and {"record": {...}} for an object with those attributes (CLRS's G with G.V and
    G.Adj)."""
    if value == "inf":
        return math.inf
    if isinstance(value, str) and value.startswith("fn:"):
        return FUNCTIONS[value[3:]]
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict) and set(value) == {"set"}:
        return set(_decode(value["set"]))
    if isinstance(value, dict) and set(value) == {"tuple"}:
        return tuple(_decode(value["tuple"]))
    if isinstance(value, dict) and set(value) == {"record"}:
        return SimpleNamespace(**{k: _decode(v) for k, v in value["record"].items()})
    return value


def load_cases(folder: Path) -> list[Case]:
    data = json.loads((folder / "cases.json").read_text(encoding="utf-8"))
    return [Case(c["file"], c["class"], [(_decode(a), _decode(e)) for a, e in c["runs"]],
                 c.get("result", "return"), c.get("entry"), c.get("approx", False))
            for c in data["cases"]]


def _same(got, want, approx: bool) -> bool:
    if isinstance(got, tuple):
        got = list(got)
    if isinstance(want, tuple):  # {"tuple": [...]} in cases.json
        want = list(want)
    if isinstance(want, list) and isinstance(got, list):
        return len(got) == len(want) and all(_same(g, w, approx) for g, w in zip(got, want))
    if approx and isinstance(want, float) and isinstance(got, (int, float)):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)
    return type(got) is not dict and got == want


@contextmanager
def _time_limit(seconds: float):
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"ran over {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_case(case: Case, folder: Path, seconds: float = 5.0) -> Outcome:
    from qtk.tools.transpile_paper import transpile

    try:
        result = transpile((folder / f"{case.file}.tex").read_text(encoding="utf-8"), f"{case.file}.tex")
    except UsageError as e:
        return Outcome(case, "refused", str(e))
    except Exception as e:  # noqa: BLE001 - a crash of the translator itself
        return Outcome(case, "error", f"transpile crashed: {type(e).__name__}: {e}")
    if result.todo_count:
        todos = [t.latex for f in result.functions for t in f.todos]
        return Outcome(case, "todo", "; ".join(todos))
    ns: dict = {}
    try:
        with _time_limit(seconds):
            exec(compile(result.python, f"{case.file}.py", "exec"), ns)
            f = ns[_entry_named(case.entry, result, ns) if case.entry else _entry(result, ns)]
            for args, want in case.runs:
                work = copy.deepcopy(args)
                got = f(*work)
                if case.result.startswith("arg") and case.result[3:].isdigit():  # arg1: CLRS's output array B
                    got = got if got is not None else work[int(case.result[3:])]
                elif case.result == "values_by_first_arg" and isinstance(got, dict):
                    got = [got.get(k) for k in args[0]]
                elif case.result == "values_by_vertex" and isinstance(got, dict):
                    got = [got.get(k) for k in range(len(want))]  # vertices 0, 1, ... of the graph
                if not _same(got, want, case.approx):
                    return Outcome(case, "wrong", f"{args!r}: got {got!r}, want {want!r}")
    except TimeoutError as e:
        return Outcome(case, "timeout", str(e))
    except Exception as e:  # noqa: BLE001 - any failure of the generated code counts
        return Outcome(case, "error", f"{type(e).__name__}: {e}")
    return Outcome(case, "ok")


def score(folder: Path) -> Report:
    return Report([run_case(c, folder) for c in load_cases(folder)])


def _entry_named(entry: str, result, ns: dict) -> str:
    """The Python name of the function a case names, by its Python name or as the block writes it
    (`FIND-MAX-SUBARRAY` -> find_max_subarray)."""
    if entry in ns:
        return entry
    flat = re.sub(r"[^0-9a-z]+", "_", entry.lower()).strip("_")
    return next((f.name for f in result.functions if f.name.rstrip("_") == flat or f.title == entry), entry)


def _entry(result, ns: dict) -> str:
    """The function a case without `entry` calls: the first one a caller can reach (a helper nested
    in its caller is not) that no other function calls, else the first reachable, else the first."""
    reachable = [r.name for r in result.functions if callable(ns.get(r.name))]
    tree = ast.parse(result.python)
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
              and any(isinstance(d, ast.FunctionDef) and d.name != n.func.id and n in ast.walk(d)
                      for d in tree.body)}
    mains = [name for name in reachable if name not in called]
    return (mains or reachable or [result.functions[0].name])[0]
