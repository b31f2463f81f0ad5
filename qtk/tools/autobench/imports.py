"""What a suite imports, and which of those modules the fork server may import once for all (issue 18).

A fresh interpreter per test module pays every heavy import again (networkx's algorithm tests:
networkx, numpy, scipy, and pytest's entry-point plugins such as hypothesis, ~1.3 s per module).
The fork server imports them once instead; this file decides which ones.

Candidates come from two places: the test modules' and their conftest files' top-level imports,
read with `ast` (nothing is executed), and the modules each test module's run actually imported
last time (pytest_plugin.py reports them; the duration cache keeps them). A module is preloaded
when at least two test modules share it. It is left out when importing it early could change what
the tests see:
- a module named like a test module or a conftest (pytest must import those itself, with its
  assertion rewriting), or anything under a `tests`/`testing` package of the suite's own;
- a top-level name that a directory pytest puts on sys.path for the suite (`sys_path_dirs`)
  resolves to another file than the server finds (the server checks): in the child it would be
  the suite's own helper, not what the server imported;
- imports a module makes after it changed os.environ (they might read the variable).
A test module whose conftest or own top-level code changes os.environ runs in a fresh interpreter
instead (`plain_reason`): its imports must happen after that change, as they would without us.
"""

from __future__ import annotations

import ast
import json
import fnmatch
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

MIN_SHARED = 2  # test modules that must import a module before it is preloaded
_ENV_MUTATORS = {"update", "setdefault", "pop", "popitem", "clear", "__setitem__", "__delitem__"}
_TEST_PACKAGES = {"tests", "test", "testing"}
_NOT_RUN_AT_IMPORT = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)  # bodies run later (methods)


def _is_environ(node: ast.AST) -> bool:
    """`os.environ` or a bare `environ` (from os import environ)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name) and node.value.id == "os"
    return isinstance(node, ast.Name) and node.id == "environ"


def _mutates_env(node: ast.AST) -> bool:
    """Does this statement (anywhere inside it) assign to, delete from or update os.environ?"""
    for sub in ast.walk(node):
        targets = []
        if isinstance(sub, (ast.Assign, ast.Delete)):
            targets = sub.targets
        elif isinstance(sub, (ast.AugAssign, ast.AnnAssign)):
            targets = [sub.target]
        if any(isinstance(t, ast.Subscript) and _is_environ(t.value) for t in targets):
            return True
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
            if sub.func.attr in _ENV_MUTATORS and _is_environ(sub.func.value):
                return True
            if sub.func.attr in ("putenv", "unsetenv"):
                return True
    return False


def _package_of(path: Path) -> str | None:
    """The dotted package a file belongs to (walking up through __init__.py files), or None."""
    parts = []
    d = path.parent
    while (d / "__init__.py").is_file():
        parts.append(d.name)
        d = d.parent
    return ".".join(reversed(parts)) or None


def _import_names(stmt: ast.stmt, path: Path) -> list[str]:
    if isinstance(stmt, ast.Import):
        return [alias.name for alias in stmt.names]
    if isinstance(stmt, ast.ImportFrom):
        if stmt.level == 0:
            return [stmt.module] if stmt.module else []
        package = _package_of(path)
        if package is None:
            return []
        base = package.split(".")
        if stmt.level > 1:
            base = base[: -(stmt.level - 1)]
        if not base:
            return []
        return [".".join(base + ([stmt.module] if stmt.module else []))]
    return []


def _top_level_statements(tree: ast.Module):
    """Module-level statements, descending into if/try/with blocks (still run at import time)."""
    stack = list(reversed(tree.body))
    while stack:
        stmt = stack.pop()
        yield stmt
        blocks = []
        if isinstance(stmt, (ast.If, ast.With)):
            blocks = [stmt.body, getattr(stmt, "orelse", [])]
        elif isinstance(stmt, ast.Try):
            blocks = [stmt.body, *(h.body for h in stmt.handlers), stmt.orelse, stmt.finalbody]
        for block in reversed(blocks):
            stack.extend(reversed(block))


def scan_file(path: Path, whole_file_env: bool = False) -> tuple[list[str], bool]:
    """(modules imported at the top level before any os.environ change, whether it changes the
    environment). `whole_file_env`: count changes anywhere in the file (conftest hooks run before
    the test modules are imported), not only at the top level."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return [], False
    names: list[str] = []
    changed = whole_file_env and _mutates_env(tree)
    for stmt in _top_level_statements(tree):
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            if not changed:
                names += _import_names(stmt, path)
        elif not isinstance(stmt, _NOT_RUN_AT_IMPORT + (ast.If, ast.With, ast.Try)) and _mutates_env(stmt):
            changed = True
    return names, changed


def cached_scan(path: Path, whole_file_env: bool, scans: dict[str, list], key: str) -> tuple[list[str], bool]:
    """scan_file, remembered in `scans` under `key` by the file's mtime and size, as pytest keys
    its rewritten-assertion cache (parsing every module of a large suite costs a few ms each,
    every run). A stale answer costs at most the preload's choice: the forked run itself still
    notices an environment change and reruns the module fresh (pytest_plugin.py)."""
    try:
        st = path.stat()
    except OSError:
        return scan_file(path, whole_file_env)
    stamp = [st.st_mtime_ns, st.st_size, whole_file_env]
    hit = scans.get(key)
    if isinstance(hit, list) and len(hit) == 5 and hit[:3] == stamp:
        return [str(n) for n in hit[3]], bool(hit[4])
    names, changed = scan_file(path, whole_file_env)
    scans[key] = [*stamp, names, changed]
    return names, changed


def conftests_for(module: Path, root: Path) -> list[Path]:
    """conftest.py files pytest loads for `module`: in its directory and every parent up to root."""
    found = []
    for d in (module.parent, *module.parent.parents):
        if (d / "conftest.py").is_file():
            found.append(d / "conftest.py")
        if d == root:
            break
    return found


def sys_path_dirs(modules: list[Path]) -> list[str]:
    """Directories pytest's default "prepend" import mode puts on sys.path for these modules: each
    one's base directory (the first one up without __init__.py). A top-level name found there
    first may be the suite's own file rather than what the server would import (checked there)."""
    dirs = set()
    for m in modules:
        d = m.parent
        while (d / "__init__.py").is_file():
            d = d.parent
        dirs.add(str(d))
    return sorted(dirs)


def _eligible(name: str, patterns: tuple[str, ...]) -> bool:
    parts = name.split(".")
    if not all(p.isidentifier() for p in parts):
        return False
    if any(p in _TEST_PACKAGES for p in parts[1:]) or parts[-1] == "conftest":
        return False
    return not any(fnmatch.fnmatchcase(parts[-1] + ".py", p) for p in patterns)


class SuiteImports:
    """Per test module: what it imports (static + last run's measurement), and whether it must
    run in a fresh interpreter because it or a conftest changes the environment."""

    def __init__(self, modules: list[Path], root: Path, patterns: tuple[str, ...],
                 measured: dict[Path, list[str]], scans: dict[str, list] | None = None):
        """`scans`: earlier scan_file answers by file (cached_scan), updated in place."""
        self.patterns = patterns
        self.imports: dict[Path, set[str]] = {}
        self.plain: dict[Path, str] = {}
        scans = {} if scans is None else scans

        def scan(path: Path, whole_file_env: bool = False) -> tuple[list[str], bool]:
            try:
                key = path.relative_to(root).as_posix()
            except ValueError:
                key = path.as_posix()
            return cached_scan(path, whole_file_env, scans, key)

        conftest_scan: dict[Path, tuple[list[str], bool]] = {}
        eligible: dict[str, bool] = {}  # the same names recur in most modules
        for m in modules:
            names, changed = scan(m)
            names = set(names)
            if changed:
                self.plain[m] = "changes os.environ at import"
            for conftest in conftests_for(m, root):
                if conftest not in conftest_scan:
                    conftest_scan[conftest] = scan(conftest, whole_file_env=True)
                c_names, c_changed = conftest_scan[conftest]
                names.update(c_names)
                if c_changed:
                    self.plain.setdefault(m, f"{conftest.name} in {conftest.parent.name}/ changes os.environ")
            names.update(measured.get(m, ()))
            for n in names.difference(eligible):
                eligible[n] = _eligible(n, patterns)
            self.imports[m] = {n for n in names if eligible[n]}

    def shared(self, exclude: set[str] = frozenset(), fresh: set[Path] = frozenset()) -> list[str]:
        """Modules at least MIN_SHARED forked test modules import, sorted (parents before children)."""
        counts = Counter(n for m, names in self.imports.items() if m not in self.plain and m not in fresh
                         for n in names)
        return sorted(n for n, c in counts.items() if c >= MIN_SHARED and n not in exclude)


@dataclass
class RunFacts:
    """What pytest_plugin.py's event stream says about one run besides its tests."""

    imported: list[str] | None = None  # modules the run imported (None: it did not say)
    env_changed: list[str] = field(default_factory=list)  # variables changed before the tests
    collected: float | None = None  # when collection finished, by time.monotonic()
    env_order: dict | None = None  # a fresh run's {"keys", "after"}: modules imported after the change
    split_chunks: int = 0  # chunk processes the run dealt its tests to (pytest_plugin._split)
    split_check: str | None = None  # why its tests could not be split ("": they could; None: unknown)
    chunk_statuses: list[int] | None = None  # their raw wait statuses, when they all ended
    chunk_ends: list[float] | None = None  # when each ended, by time.monotonic()


_FACTS = ('"imports"', '"env_changed"', '"collected"', '"env_order"', '"split', '"chunks_done"')


def read_run_facts(events_path: Path) -> RunFacts:
    facts = RunFacts()
    try:
        lines = events_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return facts
    for line in lines:
        if not any(tag in line for tag in _FACTS):
            continue  # most lines are test events: skip parsing them
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        kind = ev.get("event")
        if kind == "imports":
            facts.imported = [str(n) for n in ev.get("modules", [])]
        elif kind == "env_changed":
            facts.env_changed = [str(k) for k in ev.get("keys", [])]
        elif kind == "collected" and isinstance(ev.get("t"), (int, float)):
            facts.collected = float(ev["t"])
        elif kind == "split":
            facts.split_chunks = int(ev.get("chunks", 0))
        elif kind == "split_check":
            facts.split_check = str(ev.get("why", ""))
        elif kind == "chunks_done":
            facts.chunk_statuses = [int(x) for x in ev.get("statuses", [])]
            facts.chunk_ends = [float(x) for x in ev.get("ends", [])]
        elif kind == "env_order":
            facts.env_order = {"keys": [str(k) for k in ev.get("keys", [])],
                               "after": [str(n) for n in ev.get("after", [])]}
    return facts
