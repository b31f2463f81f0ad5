"""Where qtk finds its shipped data (configs, kernels) and keeps its caches, the one file hash it
records (checkpoints behind adapters, memory graphs), and the one way it writes a file in place
(temp file + rename). No torch."""

import hashlib
import os
import tempfile
import time
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


def atomic_write(path: Path, write) -> None:
    """Call write(tmp_path) then rename onto `path`: readers never see a partial file, and
    processes writing the same file at once (ranks sharing a cache) each use their own temp name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        _test_delay(path)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _test_delay(path: Path) -> None:
    """QTK_TEST_SLOW_WRITES=SECONDS holds each finished .safetensors temp file that long before its
    rename, so tests can kill a process in the middle of a checkpoint write."""
    delay = os.environ.get("QTK_TEST_SLOW_WRITES")
    if delay and path.suffix == ".safetensors":
        time.sleep(float(delay))
