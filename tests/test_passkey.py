"""The passkey retrieval task (qtk.data.passkey), its scoring (qtk.eval.passkey) and corpus
memories beside a checkpoint (qtk.memory.corpus, `qtk build-memory`, `--memory`)."""

import numpy as np
import pytest
import torch

from conftest import tiny_config
from qtk import config
from qtk.data import passkey
from qtk.errors import QtkError, UsageError

PK = {"data.corpus": "passkey", "data.passkey.train_distances": "512", "data.passkey.distances": "512,1k",
      "data.passkey.val_samples": 3, "data.passkey.train_samples": 40, "model.memory": "knn", "model.knn.k": 8,
      "model.block_size": 32, "model.n_embd": 32, "train.batch_size": 4, "train.max_steps": 4,
      "train.eval_interval": 4}


@pytest.fixture(scope="module")
def pk_run(tmp_path_factory):
    from qtk.train.loop import train

    run = tmp_path_factory.mktemp("pk") / "run"
    train(tiny_config(**PK), out_dir=str(run))
    return run


def text(s: passkey.PasskeyStream, lo: int, n: int) -> str:
    return bytes(s.tokens[lo:lo + n].astype(np.uint8)).decode()


@pytest.mark.parametrize("filler", ["sentences", "words"])
def test_sample_layout(filler):
    s = passkey.stream([300, 1024, 4096, 1024], filler, seed=3)
    for i, (start, d, key, line, answer) in enumerate(s.samples.tolist()):
        assert s.tokens[start] == 256 and s.sample_tokens(i) == d + 1 + passkey.ANSWER_LEN
        prompt = text(s, start + 1, d)
        assert prompt.startswith(passkey.INSTRUCTION + "\n") and prompt.endswith("\n" + passkey.QUESTION)
        assert prompt[line:].startswith(passkey.key_line(key))
        assert bytes(s.tokens[start + s.key_positions(i)].astype(np.uint8)).decode() == 2 * str(key)
        scored = np.flatnonzero(s.scored(start, s.sample_tokens(i))) - 1
        assert text(s, start + 1 + scored[0], len(scored)) == f" {key}." and scored[0] == answer - 1
    assert not s.scored_mask[:s.samples[0, 4]].any()  # only answers are targets
    again = passkey.stream([300, 1024, 4096, 1024], filler, seed=3)
    assert np.array_equal(again.tokens, s.tokens)


def test_train_distances_are_drawn_by_their_share_of_the_list():
    cfg = config.load(flags={"data.corpus": "passkey", "data.passkey.train_samples": 4000,
                             "data.passkey.train_distances": "300,300,300,1k", "data.passkey.val_samples": 1})
    train, val = passkey.splits(cfg.data)
    d = train.samples[:, 1]
    assert set(d) == {300, 1024} and abs((d == 300).mean() - 0.75) < 0.03  # 4000 draws: 3 sigma ~0.02
    assert sorted(val.samples[:, 1]) == [300, 300, 300, 1024]  # val: each entry val_samples times


def test_filler_kinds_differ_and_words_are_seeded():
    rng = np.random.default_rng
    words = passkey.Filler("words")
    assert words.text(500, rng(1)) == words.text(500, rng(1)) != words.text(500, rng(2))
    sentences = passkey.Filler("sentences").text(500, rng(1))
    assert sentences.startswith(passkey.SENTENCES) and len(sentences) == 500


def test_distances_parse_and_bad_ones_are_one_line():
    assert passkey.parse_distances("1k, 4k,1M,300") == [1024, 4096, 1 << 20, 300]
    for bad in ("12", "x", "4q", ""):
        with pytest.raises(UsageError, match="data.passkey.distances"):
            passkey.parse_distances(bad)


def test_splits_train_scores_everything_val_only_answers():
    cfg = config.load(flags={"data.corpus": "passkey", "data.passkey.train_samples": 10,
                             "data.passkey.train_distances": "512", "data.passkey.val_samples": 2})
    train, val = passkey.splits(cfg.data)
    assert train.scored_mask.all() and set(train.samples[:, 1]) == {512}
    assert val.scored_mask.sum() == sum(len(f" {k}.") for k in val.samples[:, 2])
    assert not np.array_equal(train.samples[:2, 2], val.samples[:, 2])  # another seed


@pytest.mark.parametrize("n,T", [(1031, 512), (1024, 256), (300, 512), (17, 4)])
def test_segments_end_with_the_sample(n, T):
    from qtk.eval.passkey import segment_bounds

    b = segment_bounds(n, T)
    assert b[0][0] == 0 and b[-1][1] == n and all(e == s for (_, e), (s, _) in zip(b, b[1:]))
    assert all(e - s == T for s, e in b[1:]) and 0 < b[0][1] - b[0][0] <= T
    assert b[-1][1] - b[-1][0] == min(n, T)  # the answer's segment is full: its question within reach


def reference_reads(model, s: passkey.PasskeyStream, T: int, memory: bool) -> list[tuple[bool, float, int]]:
    """Each sample alone: segments of T through one stream, the first one short so that the last
    ends with the sample; per sample (every answer target top-1, nats over them, their count)."""
    out = []
    for i in range(len(s.samples)):
        start, n = int(s.samples[i, 0]), s.sample_tokens(i)
        toks = torch.from_numpy(s.get(start, n))
        st = model.new_stream(1) if memory else None
        first = (n - 1) % T
        segs = ([toks[None, :first]] if first else []) + [toks[None, a:a + T] for a in range(first, n - 1, T)]
        logits = torch.cat([model(x, stream=st, doc_start=x == 256)[0] for x in segs], dim=1)[0]
        target = torch.from_numpy(s.scored(start + 1, n - 1).copy())
        nats = torch.nn.functional.cross_entropy(logits[target].double(), toks[1:][target], reduction="sum")
        out.append((bool((logits.argmax(-1)[target] == toks[1:][target]).all()), float(nats), int(target.sum())))
    return out


def reference_exact_match(model, s: passkey.PasskeyStream, T: int, memory: bool) -> list[bool]:
    return [right for right, _, _ in reference_reads(model, s, T, memory)]


@pytest.fixture(scope="module")
def pk_model(pk_run):
    """(model, block size) of the trained run."""
    from qtk import checkpoint
    from qtk.load import build_model

    ck = checkpoint.load(pk_run)
    return build_model(ck), ck.cfg.model.block_size


def test_held_out_loss_reads_each_sample_from_its_start(pk_model):
    """Training's periodic validation of a memory model on passkey: every answer is scored with its
    whole sample read before it (cutting the text into parts would start a part after a key line
    and score an answer whose key the row never read)."""
    from qtk.eval import evaluate

    model, T = pk_model
    s = passkey.stream([512, 512, 1024, 1024, 1024], "words", seed=9)
    with torch.no_grad():
        for memory in (True, False):
            ref = reference_reads(model, s, T, memory)
            got = evaluate(model, s, {256}, block_size=T, batch_size=2, memory=memory)
            assert got["tokens"] == sum(n for *_, n in ref)
            assert got["loss"] == pytest.approx(sum(x for _, x, _ in ref) / got["tokens"], rel=1e-5)
        # a token budget reads every j-th sample (here the 1st and 4th): both distances stay in
        budget = evaluate(model, s, {256}, block_size=T, batch_size=2, max_tokens=2000)
        kept = [r for i, r in enumerate(reference_reads(model, s, T, True)) if i in (0, 3)]
        assert budget["tokens"] == sum(n for *_, n in kept)
        assert budget["loss"] == pytest.approx(sum(x for _, x, _ in kept) / budget["tokens"], rel=1e-5)


def test_scoring_matches_a_per_sample_reference(pk_model):
    from qtk.eval.passkey import evaluate_passkey

    model, T = pk_model
    s = passkey.stream([512, 512, 512, 1024, 1024], "words", seed=9)
    with torch.no_grad():
        for memory in (True, False):
            got = evaluate_passkey(model, s, 256, block_size=T, memory=memory, rows=2)
            ref = reference_exact_match(model, s, T, memory)
            assert [r["distance"] for r in got["distances"]] == [512, 1024]
            assert [r["exact_match"] for r in got["distances"]] == [np.mean(ref[:3]), np.mean(ref[3:])]
            row = got["distances"][1]
            if memory:
                assert row["recall_at_k"] == 1.0 and 0.0 <= row["hit_at_k"] <= 1.0  # exact backend
                assert row["memory_items"] == 1024 + passkey.ANSWER_LEN  # every input token of the sample
                assert row["search_ms_p50"] > 0 and row["insert_items_per_s"] > 0
            else:
                assert row["hit_at_k"] is None and row["search_ms_p50"] is None


def test_cli_eval_passkey_by_distance(pk_run, cli):
    import json

    args = ["eval", pk_run, "--data", "passkey", "--set", "data.passkey.distances=512", "--set",
            "data.passkey.val_samples=2", "--json"]
    on = json.loads(cli(*args).stdout)
    assert on["memory"] and [r["distance"] for r in on["distances"]] == [512] and on["data"] == "passkey (test)"
    off = json.loads(cli(*args, "--no-memory").stdout)
    assert not off["memory"] and off["distances"][0]["hit_at_k"] is None
    r = cli("eval", pk_run, "--data", "passkey", "--set", "model.n_layer=3")
    assert r.exit_code == 2 and "model.n_layer" in r.stderr and "Traceback" not in r.stderr


def test_corpus_memory_build_use_and_refusals(pk_run, tmp_path, cli):
    from qtk import checkpoint
    from qtk.load import build_model
    from qtk.memory import corpus, store
    from qtk.memory.index import Memory
    from qtk.paths import sha256_file

    src = tmp_path / "notes.txt"
    src.write_text("The pass key is 4242. Remember it. 4242 is the pass key.\n" * 20)
    out = tmp_path / "corpus.safetensors"
    r = cli("build-memory", pk_run, "--data", src, "-o", out)
    assert r.exit_code == 0, r.stderr
    ck = checkpoint.load(pk_run)
    meta, t = store.read(out)  # every token of the text: <|endoftext|>, the text, <|endoftext|>
    assert meta["count"] == len(src.read_bytes()) + 2 and meta["model_sha256"] == sha256_file(ck.path)
    before = out.read_bytes()
    r = cli("build-memory", pk_run, "--data", src, "-o", out)  # nothing overwritten
    assert r.exit_code == 2 and "exists" in r.stderr and out.read_bytes() == before
    # the corpus memory is searched next to each row's own: it changes the scores
    model = build_model(ck)
    x = torch.from_numpy(np.frombuffer(b"What is the pass key? It is 4", np.uint8).astype(np.int64))[None]
    plain = model(x, stream=model.new_stream(1))[0]
    mem = corpus.attach(model, out, ck.path)
    assert len(mem) == meta["count"]
    assert not torch.allclose(model(x, stream=model.new_stream(1))[0], plain)
    # refused: other weights; other dimensions; unreadable
    other = tmp_path / "other.safetensors"
    other.write_bytes(ck.path.read_bytes() + b" ")
    with pytest.raises(QtkError, match="built by other weights"):
        corpus.attach(build_model(ck), out, other)
    wrong = tmp_path / "wrong.safetensors"
    m8 = Memory(6, 6)
    m8.add(torch.randn(3, 6), torch.randn(3, 6))
    store.save(m8, wrong, sha256_file(ck.path))
    with pytest.raises(QtkError, match="6/6-dimensional"):
        corpus.attach(build_model(ck), wrong, ck.path)
    r = cli("eval", pk_run, "--data", src, "--memory", tmp_path / "missing.safetensors")
    assert r.exit_code == 1 and r.stderr.count("\n") == 1 and "unreadable memory file" in r.stderr
    r = cli("generate", pk_run, "-p", "The pass key is", "-m", "5", "-t", "0", "--memory", out)
    assert r.exit_code == 0, r.stderr


def test_k_above_capacity_is_one_line(cli, tmp_path):
    r = cli("train", "--size", "tiny", "--data", "passkey", "--set", "model.memory=knn", "--set",
            "model.knn.capacity=16", "--set", "model.knn.k=32", "-o", tmp_path / "r")
    assert r.exit_code == 2 and "exceeds model.knn.capacity" in r.stderr and not (tmp_path / "r").exists()
