"""One entry point from a DataConfig to tokenized train/val streams (building caches as needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from qtk.config import DataConfig
from qtk.data import chat
from qtk.data import corpus as corpora
from qtk.data import records, shards, tasks
from qtk.data.tokenize import default_workers
from qtk.data.tokenizer import ByteTokenizer, Tokenizer, fingerprint, from_json, train_bpe
from qtk.errors import UsageError
from qtk.paths import atomic_write, cache_dir


def _bpe_for(corpus: corpora.Corpus, vocab_size: int, cache_root: Path) -> Tokenizer:
    """Train (or reuse a cached) BPE tokenizer on the corpus' training split."""
    path = cache_root / "bpe" / f"{corpus.name}-{corpus.fingerprint[:24]}-{vocab_size}.json"
    if path.is_file():
        return from_json(json.loads(path.read_text()))
    tok = train_bpe(corpus.train, vocab_size)
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(tok.to_json())))
    return tok


def is_chat(cfg: DataConfig) -> bool:
    """Chat data: asked for (data.format = chat), or a .jsonl file of conversations (format auto)."""
    if cfg.format == "chat":
        return True
    return cfg.format == "auto" and bool(cfg.path) and chat.is_chat_file(Path(cfg.path).expanduser())


def _corpus(cfg: DataConfig, root: Path) -> corpora.Corpus:
    if not cfg.path:
        return corpora.builtin(cfg.corpus)
    if records.is_records(cfg.path):
        return records.from_records(cfg.path, cfg.text_field, cfg.val_fraction, cfg.streaming, root / "hf")
    return corpora.from_path(cfg.path, cfg.val_fraction)


def prepare(cfg: DataConfig, tokenizer: Tokenizer | None = None,
            progress: Callable[[int, int], None] | None = None,
            notice: Callable[[str], None] | None = None) -> shards.TokenData | chat.ChatData:
    """Tokenized data for `cfg`. With `tokenizer` given (eval, resume) that tokenizer is used;
    otherwise one is made as `cfg.tokenizer` says (BPE trained on the training split). Chat data
    (qtk.data.chat) comes back with the tokenizer extended by the template's special tokens."""
    root = cache_dir()
    task = tasks.named(cfg)
    if task:
        return _task_data(task, cfg, tokenizer)
    if is_chat(cfg):
        if tokenizer is None and cfg.tokenizer != "byte":
            raise UsageError("chat data from scratch uses the byte tokenizer; to use a BPE model, "
                             "fine-tune it with --init-from")
        return chat.prepare(cfg.path, cfg.corpus, cfg.val_fraction, cfg.skip_bad_lines,
                            tokenizer or ByteTokenizer(), notice)
    if cfg.path and shards.is_shard_dir(Path(cfg.path).expanduser()):
        data = shards.open_dir(Path(cfg.path).expanduser())
        if tokenizer is not None and fingerprint(tokenizer) != fingerprint(data.tokenizer):
            raise UsageError(f"--data {cfg.path}: its shards were made with a different tokenizer than the model's")
        return data
    corpus = _corpus(cfg, root)
    if corpus.notice and notice:
        notice(corpus.notice)
    if tokenizer is None:
        tokenizer = ByteTokenizer() if cfg.tokenizer == "byte" else _bpe_for(corpus, cfg.bpe_vocab_size, root)
    built = shards.build(corpus, tokenizer, root, progress, default_workers(cfg.workers))
    data = shards.open_dir(built)
    data.tokenizer = tokenizer
    if len(data.val) < 2 or len(data.train) < 2:
        raise UsageError(f"data {corpus.name!r} is too small to train on")
    return data


def _task_data(name: str, cfg: DataConfig, tokenizer: Tokenizer | None) -> shards.TokenData:
    """A synthetic task (a name, like the built-in corpora): byte-tokenizer ids only."""
    tok, train, val = tasks.splits(name, cfg, tokenizer)
    return shards.TokenData(Path(name), tok, train, val, name)


def eval_stream(data: str | None, cfg: DataConfig, tokenizer: Tokenizer,
                progress: Callable[[int, int], None] | None = None) -> tuple[shards.TokenStream, str]:
    """The held-out stream to score a model on.

    None: the validation split of the model's own training data; `shakespeare` / `pydoc`: that
    built-in corpus' validation split; `mqar`: the recall task's held-out samples (the model's
    own data.mqar settings); `passkey`: the passkey test at data.passkey.distances; a
    token-shard directory: its val split; a text file or directory:
    all of it; a chat JSONL file: all its conversations (assistant tokens scored)."""
    if data in tasks.TASKS:
        return tasks.test_split(data, cfg, tokenizer)
    if data is None:
        built = prepare(cfg, tokenizer, progress)
        return built.val, f"{built.source} (val)"
    if data in ("shakespeare", "pydoc", "auto"):
        corpus = corpora.builtin(data)
        return shards.open_dir(shards.build(corpus, tokenizer, cache_dir(), progress)).val, f"{corpus.name} (val)"
    path = Path(data).expanduser()
    if chat.is_chat_file(path):  # every conversation, scored on the assistant's tokens
        convs, _ = chat.read_jsonl(path, skip_bad=False)
        return chat.ChatStream(chat.chat_tokenizer(tokenizer), convs), f"{path.name} (chat)"
    if records.is_records(data):  # a record data set: its held-out split
        built = prepare(DataConfig(path=data, text_field=cfg.text_field, streaming=cfg.streaming), tokenizer, progress)
        return built.val, f"{built.source} (val)"
    if shards.is_shard_dir(path):
        return prepare(DataConfig(path=data), tokenizer).val, f"{path.name} (val)"
    corpus = corpora.from_path(data, 0.0)
    corpus.val, corpus.train = corpus.train + corpus.val, []
    stream = shards.open_dir(shards.build(corpus, tokenizer, cache_dir(), progress)).val
    if len(stream) < 2:
        raise UsageError(f"--data {data}: no text to evaluate")
    return stream, corpus.name
