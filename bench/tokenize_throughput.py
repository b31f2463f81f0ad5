"""Tokenization throughput of a local jsonl data set into token shards: 1 process vs N (the
parallel, resumable path of `qtk train --data FILE.jsonl`), BPE and byte tokenizers, one run.

    python bench/tokenize_throughput.py [--mb 100] [--workers 2]
Writes a jsonl of about --mb MB (pydoc topics, each record numbered so none repeats exactly),
reads it through Hugging Face datasets once (not timed: arrow conversion), then times
shards.build with 1 and with N processes, interleaved, into fresh cache directories, and checks
the shards are identical."""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from qtk.data import records, shards  # noqa: E402
from qtk.data.tokenizer import ByteTokenizer, train_bpe  # noqa: E402


def make_jsonl(path: Path, mb: int) -> int:
    from pydoc_data.topics import topics

    texts = [topics[k] for k in sorted(topics)]
    size, i = 0, 0
    with open(path, "w") as f:
        while size < mb * 1e6:
            line = json.dumps({"text": f"[{i}] " + texts[i % len(texts)]}) + "\n"
            f.write(line)
            size += len(line)
            i += 1
    return i


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qtk-tokbench-"))
    n = make_jsonl(work / "data.jsonl", args.mb)
    corpus = records.from_records(str(work / "data.jsonl"), "text", 0.01, False, work / "hf")
    text_mb = (corpus.train.n_bytes + corpus.val.n_bytes) / 1e6
    bpe = train_bpe((d for i, d in enumerate(corpus.train) if i < 2000), 4096)
    print(f"data: {n:,} records, {text_mb:.1f} MB of text; cores {len(os.sched_getaffinity(0))}; "
          f"load average {os.getloadavg()[0]:.2f}")
    for tok in (bpe, ByteTokenizer()):
        rates, outs = {}, {}
        for w in (1, args.workers):
            t = time.perf_counter()
            outs[w] = shards.build(corpus, tok, work / f"cache-{tok.name}-{w}", workers=w)
            rates[w] = text_mb / (time.perf_counter() - t)
            print(f"{tok.name:>4} {w} process{'es' if w > 1 else ''}: {rates[w]:6.2f} MB/s "
                  f"(load {os.getloadavg()[0]:.2f})", flush=True)
        same = all((outs[1] / p.name).read_bytes() == p.read_bytes() for p in outs[args.workers].glob("*.bin"))
        print(f"{tok.name:>4}: {args.workers} / 1 processes = {rates[args.workers] / rates[1]:.2f}x; "
              f"identical shards: {same}")


if __name__ == "__main__":
    main()
