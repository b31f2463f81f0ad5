"""Record data sets: `hf:NAME[/CONFIG][:SPLIT]` from the Hugging Face Hub and local .jsonl, .parquet
and .arrow files or directories (a `datasets` data directory with train-*/validation-* files, or one
written by `save_to_disk`), all read through Hugging Face `datasets` (the optional extra `data`,
imported only here). The text comes from the `data.text_field` column; the held-out split is the data
set's own validation split when it has one, else the last `val_fraction` of its records.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterator

from qtk.data.corpus import Corpus
from qtk.errors import QtkError, UsageError

RECORD_SUFFIXES = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".arrow": "arrow"}
VAL_SPLITS = ("validation", "valid", "val")
BATCH = 1000  # records read per arrow batch


def is_records(path: str) -> bool:
    """An hf: spec, a record file, or a directory holding record files and no .txt/.md."""
    if path.startswith("hf:"):
        return True
    p = Path(path).expanduser()
    if p.is_file():
        return p.suffix.lower() in RECORD_SUFFIXES
    if not p.is_dir():
        return False
    suffixes = {f.suffix.lower() for f in p.rglob("*") if f.is_file()}
    return bool(suffixes & set(RECORD_SUFFIXES)) and not suffixes & {".txt", ".md"}


def parse_spec(spec: str) -> tuple[str, str | None, str | None]:
    """hf:NAME[/CONFIG][:SPLIT] -> (name, config, split). NAME is a Hub id (owner/name) or a local path."""
    body = spec[3:] if spec.startswith("hf:") else spec
    split = None
    head, sep, tail = body.rpartition(":")
    if sep and head and "/" not in tail:
        body, split = head, tail
    if Path(body).expanduser().exists():
        return str(Path(body).expanduser()), None, split
    parts = body.split("/")
    if len(parts) > 3 or not all(parts):
        raise UsageError(f"--data {spec}: expected hf:NAME[/CONFIG][:SPLIT] with NAME a Hub id (owner/name)")
    if len(parts) == 3:
        return "/".join(parts[:2]), parts[2], split
    return body, None, split


class Docs:
    """One split's text column, read in arrow batches (never all in memory)."""

    def __init__(self, ds: Any, field: str, rows: range | None = None) -> None:
        self.ds, self.field, self.rows = ds, field, rows

    def __iter__(self) -> Iterator[bytes]:
        ds = self.ds if self.rows is None else self.ds.select(self.rows)
        try:
            for batch in ds.iter(batch_size=BATCH):
                for text in batch[self.field]:
                    if not isinstance(text, str):
                        raise UsageError(f"data.text_field {self.field!r} holds {type(text).__name__} values, not text")
                    yield text.encode("utf-8")
        except QtkError:
            raise
        except Exception as e:  # arrow / json readers raise many types for bad records
            raise QtkError(f"--data: unreadable records: {_first_line(e)}") from None

    @property
    def n_bytes(self) -> int | None:
        """UTF-8 bytes of the text (for the progress bar); None when streaming."""
        if not hasattr(self.ds, "data"):
            return None
        import pyarrow.compute as pc

        col = self.ds.data.column(self.field)
        if self.rows is not None:
            col = col.slice(self.rows.start, len(self.rows))
        return int(pc.sum(pc.binary_length(col)).as_py() or 0)


def _first_line(e: BaseException) -> str:
    """The reader's own message: `datasets` wraps it in a generic error (skip those), and its
    fallbacks may add later, vaguer ones (stop at the first)."""
    while type(e).__module__.startswith("datasets") and (e.__cause__ or e.__context__) is not None:
        e = e.__cause__ or e.__context__
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:200] if text else ''}"


def _import_datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise UsageError("--data: record data sets need Hugging Face datasets: pip install 'qtk[data]'") from None
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)  # its readers log what we report in one line
    return datasets


def _load(spec: str, streaming: bool, cache: Path) -> tuple[Any, str, str | None, str]:
    """(DatasetDict or IterableDatasetDict, name, requested split, fingerprint seed)."""
    datasets = _import_datasets()
    local = Path(spec).expanduser()
    if not spec.startswith("hf:") and local.is_file():
        kind = RECORD_SUFFIXES[local.suffix.lower()]
        st = local.stat()
        seed = f"{local.resolve()}:{st.st_size}:{st.st_mtime_ns}"
        return datasets.load_dataset(kind, data_files=str(local), cache_dir=str(cache), streaming=streaming), \
            local.stem, None, seed
    name, config, split = parse_spec(spec if spec.startswith("hf:") else "hf:" + spec)
    path = Path(name)
    if path.is_dir() and ((path / "dataset_dict.json").is_file() or (path / "state.json").is_file()):
        ds = datasets.load_from_disk(str(path))
        ds = ds if isinstance(ds, datasets.DatasetDict) else datasets.DatasetDict({"train": ds})
        return ds, path.name, split, str(path.resolve())
    kwargs = {"cache_dir": str(cache)} if path.exists() else {}
    return datasets.load_dataset(name, config, streaming=streaming, **kwargs), \
        path.name or name, split, f"{name}:{config}"


def from_records(spec: str, text_field: str, val_fraction: float, streaming: bool, cache: Path) -> Corpus:
    try:
        splits, name, split, seed = _load(spec, streaming, cache)
    except QtkError:
        raise
    except FileNotFoundError as e:
        raise UsageError(f"--data {spec}: {_first_line(e)}") from None
    except Exception as e:  # datasets wraps every reader failure; report the reader's own words
        raise QtkError(f"--data {spec}: unreadable data set ({_first_line(e)})") from None
    train_split = split or "train"
    if train_split not in splits:
        raise UsageError(f"--data {spec}: no split {train_split!r} (has {', '.join(splits)})")
    train = splits[train_split]
    columns = list(train.column_names or [])
    if columns and text_field not in columns:
        raise UsageError(f"--data {spec}: no column {text_field!r} (columns: {', '.join(columns)}); "
                         f"set data.text_field")
    h = hashlib.sha256(f"records-v1:{seed}:{train_split}:{text_field}".encode())
    val_name = next((s for s in VAL_SPLITS if s in splits and s != train_split), None)
    if val_name:
        train_docs, val_docs = Docs(train, text_field), Docs(splits[val_name], text_field)
        h.update(f"val={val_name}".encode())
    elif streaming:
        raise UsageError(f"--data {spec}: streaming needs a validation split to hold out (this set has "
                         f"{', '.join(splits)}); set data.streaming=false")
    else:
        n = len(train)
        n_val = max(1, round(n * val_fraction)) if val_fraction > 0 else 0
        if n - n_val < 1:
            raise UsageError(f"--data {spec}: {n} records are too few to hold out {val_fraction:.0%}")
        train_docs, val_docs = Docs(train, text_field, range(0, n - n_val)), Docs(train, text_field, range(n - n_val, n))
        h.update(f"val={val_fraction}".encode())
    for ds in (train, splits[val_name] if val_name else None):
        h.update(str(getattr(ds, "_fingerprint", "")).encode())
    return Corpus(name, train_docs, val_docs, h.hexdigest())
