"""Record data sets (jsonl / parquet / arrow / hf:) through Hugging Face datasets, and the
parallel, resumable tokenizer: all must give the shards the plain-text path gives."""

import json

import pytest

pytest.importorskip("datasets")
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from conftest import TINY_SETS  # noqa: E402
from qtk.config import DataConfig  # noqa: E402
from qtk.data import records, shards, tokenize  # noqa: E402
from qtk.data.prepare import prepare  # noqa: E402
from qtk.errors import QtkError, UsageError  # noqa: E402

DOCS = [f"document {i}: " + "naïve text ✓ " * (5 + i) + "\n" for i in range(12)]  # 12 docs: 1 held out


def shard_bytes(data) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(data.root.glob("*.bin"))}


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    d = tmp_path_factory.mktemp("txt")
    for i, doc in enumerate(DOCS):
        (d / f"{i:02d}.txt").write_text(doc)
    return shard_bytes(prepare(DataConfig(path=str(d))))


def write_jsonl(path, docs, field="text"):
    path.write_text("".join(json.dumps({field: t, "id": i}) + "\n" for i, t in enumerate(docs)))
    return path


def test_jsonl_parquet_arrow_match_plain_text(tmp_path, plain):
    write_jsonl(tmp_path / "d.jsonl", DOCS)
    pq.write_table(pa.table({"body": DOCS}), tmp_path / "d.parquet")
    with pa.OSFile(str(tmp_path / "d.arrow"), "wb") as sink, pa.ipc.new_stream(sink, pa.schema([("text", pa.string())])) as w:
        w.write_table(pa.table({"text": DOCS}))
    assert shard_bytes(prepare(DataConfig(path=str(tmp_path / "d.jsonl")))) == plain
    assert shard_bytes(prepare(DataConfig(path=str(tmp_path / "d.parquet"), text_field="body"))) == plain
    assert shard_bytes(prepare(DataConfig(path=str(tmp_path / "d.arrow")))) == plain
    data = prepare(DataConfig(path=str(tmp_path / "d.jsonl")))
    eot = data.tokenizer.eot_id
    expect = [t for doc in DOCS[:11] for t in [eot, *doc.encode()]]
    assert data.train.get(0, len(data.train)).tolist() == expect


def test_hf_data_directory_uses_its_validation_split(tmp_path, plain):
    """A `datasets` data directory (data/train-*.parquet, data/validation-*.parquet) read with hf:PATH."""
    root = tmp_path / "myset"
    (root / "data").mkdir(parents=True)
    pq.write_table(pa.table({"text": DOCS[:11]}), root / "data" / "train-00000-of-00001.parquet")
    pq.write_table(pa.table({"text": DOCS[11:]}), root / "data" / "validation-00000-of-00001.parquet")
    assert shard_bytes(prepare(DataConfig(path=f"hf:{root}"))) == plain
    with pytest.raises(UsageError, match="no split 'test' \\(has train, validation\\)"):
        prepare(DataConfig(path=f"hf:{root}:test"))
    # a save_to_disk directory reads the same way
    import datasets

    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": DOCS[:11]}),
                          "validation": datasets.Dataset.from_dict({"text": DOCS[11:]})}).save_to_disk(tmp_path / "saved")
    assert shard_bytes(prepare(DataConfig(path=f"hf:{tmp_path / 'saved'}"))) == plain


def test_streaming_reads_the_same_records(tmp_path, plain):
    d = tmp_path / "streamed"
    d.mkdir()
    write_jsonl(d / "train.jsonl", DOCS[:11])
    write_jsonl(d / "validation.jsonl", DOCS[11:])
    assert shard_bytes(prepare(DataConfig(path=f"hf:{d}", streaming=True))) == plain
    with pytest.raises(UsageError, match="streaming needs a validation split"):
        prepare(DataConfig(path=str(write_jsonl(tmp_path / "one.jsonl", DOCS)), streaming=True))


def test_spec_parsing():
    assert records.parse_spec("hf:roneneldan/TinyStories") == ("roneneldan/TinyStories", None, None)
    assert records.parse_spec("hf:Salesforce/wikitext/wikitext-103-raw-v1:test") == (
        "Salesforce/wikitext", "wikitext-103-raw-v1", "test")
    with pytest.raises(UsageError, match="hf:NAME"):
        records.parse_spec("hf:a/b/c/d")


def test_parallel_tokenization_matches_serial_and_resumes(tmp_path, monkeypatch):
    from qtk.data.corpus import Corpus
    from qtk.data.tokenizer import train_bpe

    monkeypatch.setattr(tokenize, "CHUNK_BYTES", 200)  # many chunks from a small text
    monkeypatch.setattr(shards, "SHARD_TOKENS", 500)
    tok = train_bpe([d.encode() for d in DOCS], 300)
    corpus = Corpus("c", [d.encode() for d in DOCS[:11]] * 3, [DOCS[11].encode()], "fp")
    serial = shards.open_dir(shards.build(corpus, tok, tmp_path / "a", workers=1))
    two = shards.open_dir(shards.build(corpus, tok, tmp_path / "b", workers=2))
    assert shard_bytes(two) == shard_bytes(serial) and len(list(two.root.glob("train_*.bin"))) > 2
    # interrupted after 4 chunks; the second build encodes only the rest
    calls = []

    def stop(done, total):
        if len(calls) == 0 and done > 4 * 200:
            calls.append(done)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        shards.build(corpus, tok, tmp_path / "c", progress=stop, workers=1)
    partial = list((tmp_path / "c" / "tokens").glob(".partial-*/train.*.bin"))
    assert len(partial) >= 4
    real = tokenize.encode_docs
    encoded = []
    monkeypatch.setattr(tokenize, "encode_docs", lambda t, docs, dt: encoded.append(1) or real(t, docs, dt))
    resumed = shards.open_dir(shards.build(corpus, tok, tmp_path / "c", workers=1))
    assert shard_bytes(resumed) == shard_bytes(serial)
    n_chunks = len(list(tokenize._chunks(corpus.train))) + len(list(tokenize._chunks(corpus.val)))
    assert len(encoded) == n_chunks - len(partial)
    assert not list((tmp_path / "c" / "tokens").glob(".partial-*"))


def test_bad_record_files_give_one_line(tmp_path, cli):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"text": broken\n')
    with pytest.raises(QtkError, match="bad.jsonl"):
        prepare(DataConfig(path=str(bad)))
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"PAR1 this is not parquet")
    sets = [a for k, v in TINY_SETS.items() if k != "data.corpus" for a in ("--set", f"{k}={v}")]
    for path in (bad, junk):
        r = cli("train", *sets, "--data", path, "--out-dir", tmp_path / "run")
        assert r.exit_code == 1, r.stderr
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert path.name in r.stderr
    with pytest.raises(UsageError, match="no column 'text'.*body"):
        prepare(DataConfig(path=str(write_jsonl(tmp_path / "other.jsonl", DOCS, field="body"))))


def test_train_on_a_parquet_file(tmp_path, cli):
    pq.write_table(pa.table({"text": [d * 20 for d in DOCS]}), tmp_path / "d.parquet")
    sets = [a for k, v in {**TINY_SETS, "train.max_steps": 3}.items() if k != "data.corpus"
            for a in ("--set", f"{k}={v}")]
    r = cli("train", *sets, "--data", tmp_path / "d.parquet", "--out-dir", tmp_path / "run", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["steps"] == 3
