"""Where qtk finds its shipped data (configs, kernels) and keeps its caches, and the one file hash
it records (checkpoints behind adapters, memory graphs). No torch."""

import hashlib
import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def shipped_dir(name: str) -> Path:
    """configs/ or kernels/: inside the wheel (qtk/_data/NAME) or beside qtk/ in a checkout."""
    for candidate in (_PKG / "_data" / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"qtk installation is missing its {name}/ directory")


def cache_dir() -> Path:
    """Token-shard cache: $QTK_CACHE_DIR, else $XDG_CACHE_HOME/qtk, else ~/.cache/qtk."""
    root = os.environ.get("QTK_CACHE_DIR")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "qtk"


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
