"""Third-party components: import the plugin modules that `model.plugins` names.

A plugin is a Python module that calls `qtk.registry.register(...)` for its components when it is
imported. `model.plugins` lists them as dotted module names (`mypkg.mixers`) or as paths to a
`.py` file; a path is stored absolute in the run's config.toml, so `qtk eval`, `qtk generate` and
`qtk export-onnx` rebuild the model in a fresh process from any directory. Installed packages can
instead declare an entry point in the group `qtk.components` (loaded on the first unknown name).
A plugin that is missing or fails to import is a UsageError naming it (exit 2).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from qtk.errors import UsageError

_loaded: dict[str, str] = {}  # spec -> module name


def is_path(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or "\\" in spec


def normalise(spec: str, base: Path | None = None) -> str:
    """A file path made absolute (relative to `base`, else the working directory); a module name as is."""
    spec = spec.strip()
    if not spec:
        raise UsageError("model.plugins: an empty entry")
    if is_path(spec):
        p = Path(spec).expanduser()
        if not p.is_absolute():
            p = (base or Path.cwd()) / p
        return str(p.resolve())
    return spec


def load(specs: list[str]) -> None:
    """Import every plugin once (per process)."""
    for spec in specs:
        if spec in _loaded:
            continue
        _loaded[spec] = _import_file(spec) if is_path(spec) else _import_module(spec)


def _fail(spec: str, e: BaseException) -> UsageError:
    first = (str(e).strip().splitlines() or [""])[0][:200]
    return UsageError(f"model.plugins: cannot load plugin {spec!r} ({type(e).__name__}: {first})")


def _import_module(name: str) -> str:
    try:
        importlib.import_module(name)
    except UsageError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever the plugin raises is reported as one line
        raise _fail(name, e) from None
    return name


def _import_file(path: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"model.plugins: plugin file not found: {p}")
    # one module name per file path, so two plugins called mixers.py do not collide
    name = f"qtk_plugin_{p.stem}_{hashlib.sha1(str(p).encode()).hexdigest()[:8]}"
    spec = importlib.util.spec_from_file_location(name, p)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except UsageError:
        sys.modules.pop(name, None)
        raise
    except Exception as e:  # noqa: BLE001
        sys.modules.pop(name, None)
        raise _fail(str(p), e) from None
    return name


def import_entry_point(ep: Any) -> None:
    """Load one `qtk.components` entry point (a module, or a function to call)."""
    try:
        obj = ep.load()
        if callable(obj) and not isinstance(obj, type):
            obj()
    except UsageError:
        raise
    except Exception as e:  # noqa: BLE001
        raise _fail(f"{ep.name} = {ep.value} (entry point)", e) from None
