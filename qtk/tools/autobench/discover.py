"""Finding test modules and ordering them longest-first from the durations of the previous run.

Discovery mirrors pytest's defaults: file names matching `test_*.py` / `*_test.py`, skipping the
directories pytest's `norecursedirs` skips (hidden, build, dist, venvs...). Scheduling the longest
modules first is the LPT rule (Graham, 1969): on j workers the makespan is within 4/3 of optimal,
whereas an unlucky order can leave one long module running alone at the end.

The duration cache is one JSON file, by default `<root>/.pytest_cache/qtk-autobench.json`, where
<root> is the nearest directory at or above DIR holding pytest.ini, pyproject.toml, tox.ini,
setup.cfg or .git (else DIR itself) — where pytest keeps its own cache, already git-ignored.
"""

from __future__ import annotations

import fnmatch
import json
import os
from pathlib import Path

from qtk.errors import QtkError, UsageError

DEFAULT_PATTERNS = ("test_*.py", "*_test.py")
_SKIP_DIRS = {"build", "dist", "node_modules", "venv", "CVS", "_darcs", "{arch}", "__pycache__"}
_ROOT_MARKERS = ("pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg", ".git")
CACHE_NAME = "qtk-autobench.json"


class NoModulesFound(QtkError):
    """Nothing matched the patterns. Exit code 5, as pytest's "no tests collected"."""

    exit_code = 5


def discover_modules(target: Path, patterns: tuple[str, ...] = DEFAULT_PATTERNS) -> list[Path]:
    """Test module files under `target` (or `target` itself when it is a file), sorted by path."""
    if not target.exists():
        raise UsageError(f"{target}: no such file or directory")
    if target.is_file():
        if target.suffix != ".py":
            raise UsageError(f"{target}: not a Python test module (expected a .py file or a directory)")
        return [target.resolve()]
    found = []
    for dirpath, dirnames, filenames in os.walk(target):
        dirnames[:] = sorted(d for d in dirnames if not _skipped_dir(Path(dirpath) / d))
        found += [Path(dirpath, f).resolve() for f in filenames if _matches(f, patterns)]
    if not found:
        raise NoModulesFound(f"no test modules matching {', '.join(patterns)} under {target}")
    return sorted(found)


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return name.endswith(".py") and any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _skipped_dir(path: Path) -> bool:
    name = path.name
    if name.startswith(".") or name in _SKIP_DIRS or name.endswith(".egg"):
        return True
    return (path / "pyvenv.cfg").exists()  # a virtualenv under any name


def cache_root(target: Path) -> Path:
    """The project directory the cache (and its module keys) are relative to."""
    start = (target if target.is_dir() else target.parent).resolve()
    for d in (start, *start.parents):
        if any((d / m).exists() for m in _ROOT_MARKERS):
            return d
    return start


def default_cache_file(target: Path) -> Path:
    return cache_root(target) / ".pytest_cache" / CACHE_NAME


class DurationCache:
    """What the last run learnt, keyed by module path relative to the cache root: seconds each
    module took and how much of that came before its first test, what it imported (imports.py),
    which modules must run in a fresh interpreter (they change os.environ before their tests),
    and for those what a fresh run imported after the change, which imports made forking unsafe, and what each test module's and conftest's import lines
    said (imports.cached_scan)."""

    def __init__(self, path: Path | None, root: Path):
        self.path, self.root = path, root
        self.durations: dict[str, float] = {}
        self.imports: dict[str, list[str]] = {}
        self.fresh: dict[str, str] = {}  # module key -> why it runs in a fresh interpreter
        self.unsafe: dict[str, str] = {}  # module name -> why it is not preloaded
        self.scans: dict[str, list] = {}  # file key -> [mtime_ns, size, conftest?, imports, changes env]
        self.setups: dict[str, float] = {}  # module key -> seconds from its start to its first test
        # module key -> [mtime_ns, size, variables changed, modules a fresh run imported after the change]
        self.env_orders: dict[str, list] = {}
        self.split_checks: dict[str, list] = {}  # module key -> [mtime_ns, size, why not splittable or ""]
        if path is not None and path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                self.durations = {str(k): float(v) for k, v in data.get("durations", {}).items()}
                self.imports = {str(k): [str(n) for n in v] for k, v in data.get("imports", {}).items()}
                self.fresh = {str(k): str(v) for k, v in data.get("fresh", {}).items()}
                self.unsafe = {str(k): str(v) for k, v in data.get("unsafe", {}).items()}
                self.scans = {str(k): v for k, v in data.get("scans", {}).items() if isinstance(v, list)}
                self.setups = {str(k): float(v) for k, v in data.get("setups", {}).items()}
                self.env_orders = {str(k): v for k, v in data.get("env_orders", {}).items()
                                   if isinstance(v, list) and len(v) == 4}
                self.split_checks = {str(k): v for k, v in data.get("split_checks", {}).items()
                                     if isinstance(v, list) and len(v) == 3}
            except (OSError, ValueError, AttributeError, TypeError):
                # a corrupt cache only costs the ordering and the preload list; start afresh
                self.durations, self.imports, self.fresh, self.unsafe = {}, {}, {}, {}
                self.scans, self.setups, self.env_orders, self.split_checks = {}, {}, {}, {}

    def key(self, module: Path) -> str:
        try:
            return module.relative_to(self.root).as_posix()
        except ValueError:
            return module.as_posix()

    def get(self, module: Path) -> float | None:
        return self.durations.get(self.key(module))

    def env_order(self, module: Path) -> dict | None:
        """A fresh run's record of `module`'s environment change ({"keys", "after"}), or None when
        there is none or the file changed since it was made."""
        hit = self._stamped(self.env_orders, module)
        return None if hit is None else {"keys": list(hit[0]), "after": list(hit[1])}

    def set_env_order(self, module: Path, order: dict | None) -> None:
        self._stamp(self.env_orders, module, None if order is None else [order["keys"], order["after"]])

    def split_check(self, module: Path) -> str | None:
        """What the last run found: "" when the module's tests could be dealt to chunks, else
        why not; None when unknown or the file changed since."""
        hit = self._stamped(self.split_checks, module)
        return None if hit is None else str(hit[0])

    def set_split_check(self, module: Path, why: str) -> None:
        self._stamp(self.split_checks, module, [why])

    def _stamped(self, table: dict[str, list], module: Path) -> list | None:
        """What `table` holds for `module` after its [mtime_ns, size] stamp, if the file still matches."""
        hit = table.get(self.key(module))
        try:
            st = module.stat()
        except OSError:
            return None
        return hit[2:] if hit is not None and hit[:2] == [st.st_mtime_ns, st.st_size] else None

    def _stamp(self, table: dict[str, list], module: Path, value: list | None) -> None:
        try:
            st = module.stat()
        except OSError:
            value = None
        if value is None:
            table.pop(self.key(module), None)
        else:
            table[self.key(module)] = [st.st_mtime_ns, st.st_size, *value]

    def update(self, seconds: dict[Path, float]) -> None:
        for module, s in seconds.items():
            self.durations[self.key(module)] = round(s, 3)

    def save(self) -> bool:
        """Write atomically; False when the directory is not writable (the run itself is unharmed)."""
        if self.path is None:
            return False
        try:
            fresh_dir = not self.path.parent.exists()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if fresh_dir and self.path.parent.name == ".pytest_cache":
                # The same guard pytest writes, so `git status` stays clean.
                (self.path.parent / ".gitignore").write_text("# Created by qtk autobench.\n*\n")
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            data = {"version": 1, "durations": self.durations, "imports": self.imports, "fresh": self.fresh,
                    "unsafe": self.unsafe, "scans": self.scans, "setups": self.setups,
                    "env_orders": self.env_orders, "split_checks": self.split_checks}
            tmp.write_text(json.dumps(data, indent=None, sort_keys=True, separators=(",", ":")))
            os.replace(tmp, self.path)
            return True
        except OSError:
            return False


def longest_first(modules: list[Path], cache: DurationCache) -> list[Path]:
    """Known modules by last duration, longest first; modules never timed go first of all (they
    might be the longest), the larger files first as a rough proxy."""

    def sort_key(m: Path) -> tuple[int, float, str]:
        seconds = cache.get(m)
        if seconds is None:
            return (0, -m.stat().st_size, str(m))
        return (1, -seconds, str(m))

    return sorted(modules, key=sort_key)
