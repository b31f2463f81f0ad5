"""Reading the points a scaling law is fitted to: a CSV file, or JSON as a list of records or a
dict of columns, with the columns named by the caller. Every bad value is reported with its
file, row and column, because these tables are usually hand-assembled from papers and logs.
"""

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qtk.errors import UsageError

TRAIN_VALUES = ("train", "fit")
TEST_VALUES = ("test", "holdout", "heldout", "extrapolate", "eval", "val", "valid", "validation")


@dataclass
class Table:
    """Columns as lists of raw cells, and how to name row i in an error message."""

    path: Path
    columns: dict[str, list]
    row_label: str = "row"  # "line" for CSV (numbered as in an editor), "record" for JSON
    first_row: int = 1

    @property
    def n_rows(self) -> int:
        return len(next(iter(self.columns.values()), []))

    def where(self, i: int) -> str:
        return f"{self.path} {self.row_label} {i + self.first_row}"


@dataclass
class Points:
    """The numeric columns a fit uses, one entry per row, and which rows are held out."""

    y: np.ndarray
    x: np.ndarray | None = None  # power / bnsl
    n: np.ndarray | None = None  # chinchilla
    d: np.ndarray | None = None
    test: np.ndarray | None = None  # True = held out; None = all rows are training rows
    names: dict[str, str] = field(default_factory=dict)  # role -> column name

    def __post_init__(self) -> None:
        if self.test is None:
            self.test = np.zeros(self.y.size, dtype=bool)

    def subset(self, mask: np.ndarray) -> "Points":
        pick = (lambda a: None if a is None else a[mask])
        return Points(self.y[mask], pick(self.x), pick(self.n), pick(self.d),
                      self.test[mask], self.names)

    @property
    def order_key(self) -> np.ndarray:
        """What 'the last K points' is sorted by: x, or compute 6ND for two-variable data."""
        return self.x if self.x is not None else 6.0 * self.n * self.d


def load_table(path: str | Path) -> Table:
    """CSV, or JSON (list of records / dict of column lists); the format is taken from the
    extension, and a file that is neither .json nor .csv is sniffed by its first character."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"no such file: {path}")
    if path.is_dir():
        raise UsageError(f"{path} is a directory, expected a CSV or JSON file")
    text = path.read_text(encoding="utf-8-sig")
    is_json = path.suffix.lower() == ".json" or (
        path.suffix.lower() != ".csv" and text.lstrip()[:1] in ("[", "{"))
    table = _json_table(path, text) if is_json else _csv_table(path, text)
    if table.n_rows == 0:
        raise UsageError(f"{path} has no data rows")
    return table


def _csv_table(path: Path, text: str) -> Table:
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames:
        raise UsageError(f"{path} is empty (expected a CSV header line)")
    header = [name.strip() for name in reader.fieldnames]
    columns: dict[str, list] = {name: [] for name in header}
    for row in reader:
        for raw, name in zip(reader.fieldnames, header):
            columns[name].append(row.get(raw))
    return Table(path, columns, "line", 2)


def _json_table(path: Path, text: str) -> Table:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"{path} is not valid JSON: line {e.lineno} column {e.colno}: {e.msg}") from None
    if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()) and data:
        lengths = {name: len(v) for name, v in data.items()}
        if len(set(lengths.values())) > 1:
            raise UsageError(f"{path}: columns have different lengths: {lengths}")
        return Table(path, dict(data), "record", 1)
    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        names = list(dict.fromkeys(k for r in data for k in r))
        return Table(path, {k: [r.get(k) for r in data] for k in names}, "record", 1)
    raise UsageError(f"{path}: expected a JSON list of records or an object of column lists")


def column(table: Table, name: str, positive: bool = True) -> np.ndarray:
    """One numeric column; missing names list the available ones, bad cells name their row."""
    if name not in table.columns:
        raise UsageError(f"column {name!r} not found in {table.path}; "
                         f"available columns: {', '.join(table.columns)}")
    values = np.empty(table.n_rows)
    for i, cell in enumerate(table.columns[name]):
        try:
            values[i] = float(cell)
        except (TypeError, ValueError):
            raise UsageError(f"{table.where(i)}: column {name!r} is not a number: {cell!r}") from None
        if not np.isfinite(values[i]) or (positive and values[i] <= 0):
            raise UsageError(f"{table.where(i)}: column {name!r} must be a positive number "
                             f"(scaling laws are fitted in log space), got {cell!r}")
    return values


def split_column(table: Table, name: str) -> np.ndarray:
    """True where a row is held out: values train/fit vs test/holdout/extrapolate/..."""
    if name not in table.columns:
        column(table, name)  # raises the "not found; available columns" error
    test = np.empty(table.n_rows, dtype=bool)
    for i, cell in enumerate(table.columns[name]):
        value = str(cell).strip().lower()
        if value not in TRAIN_VALUES + TEST_VALUES:
            raise UsageError(f"{table.where(i)}: split column {name!r} has {cell!r}; expected "
                             f"{'/'.join(TRAIN_VALUES)} (fitted) or {'/'.join(TEST_VALUES)} (held out)")
        test[i] = value in TEST_VALUES
    return test


def select_points(table: Table, y: str, x: str | None = None, n: str | None = None,
                  d: str | None = None, c: str | None = None, two_variable: bool = False) -> Points:
    """Pick the columns for a one-variable law (x, y) or Chinchilla's (N, D or C, y); D = C/(6N)."""
    if not two_variable:
        if x is None:
            raise UsageError(f"this form needs --x COLUMN; columns in {table.path}: {', '.join(table.columns)}")
        return Points(column(table, y), x=column(table, x), names={"x": x, "y": y})
    if n is None or (d is None) == (c is None):
        raise UsageError("chinchilla needs --n COLUMN and exactly one of --d COLUMN (tokens) or "
                         f"--c COLUMN (FLOPs, D = C/(6N)); columns in {table.path}: {', '.join(table.columns)}")
    n_values = column(table, n)
    d_values = column(table, d) if d is not None else column(table, c) / (6.0 * n_values)
    names = {"n": n, "y": y, **({"d": d} if d is not None else {"c": c})}
    return Points(column(table, y), n=n_values, d=d_values, names=names)
