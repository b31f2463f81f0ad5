"""Training throughput: qtk's GPT vs Hugging Face transformers' GPT-2 with identical dims
(layers, width, heads, context, vocabulary), the same batch of real text, the same AdamW, one run.

    python bench/train_throughput.py [--size small] [--batch 8] [--steps 10] [--compile]
Prints tokens/s for both and the ratio qtk / transformers (target >= 1.3). --compile runs qtk's
model through torch.compile, as `qtk train --compile` does (the compile falls in the warm-up);
transformers stays eager."""

import argparse
import sys
import time
from pathlib import Path

import qtk  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch loads)
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import hf_gpt2, machine, median, qtk_model, timed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="small")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--compile", action="store_true")
    args = ap.parse_args()

    from qtk.config import DataConfig
    from qtk.data.prepare import prepare

    ours = qtk_model(args.size, 320, **{"model.dropout": 0.0})
    theirs = hf_gpt2(ours)
    T = ours.cfg.block_size
    data = prepare(DataConfig(corpus="auto"))
    rows = torch.stack([torch.from_numpy(data.train.get(i * 9973, T + 1)) for i in range(args.batch)])
    x, y = rows[:, :-1], rows[:, 1:]

    def stepper(model, forward):
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)

        def step():
            loss = forward(model)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        return step

    net = torch.compile(ours) if args.compile else ours
    ours_step = stepper(ours.train(), lambda m: net(x, y)[1])
    theirs_step = stepper(theirs.train(), lambda m: m(input_ids=x, labels=x).loss)
    # Interleave the two so that load from other processes hits both alike.
    times = {"qtk": [], "transformers": []}
    t0 = time.perf_counter()
    for _ in range(args.warmup):
        ours_step()
    warm = time.perf_counter() - t0
    for _ in range(args.warmup):
        theirs_step()
    for _ in range(args.steps):
        for name, fn in (("qtk", ours_step), ("transformers", theirs_step)):
            times[name] += timed(fn, 0, 1)
    results = {name: args.batch * T / median(ts) for name, ts in times.items()}
    print(f"machine: {machine()}")
    print(f"model: {args.size} dims, qtk {ours.num_params() / 1e6:.2f}M params, "
          f"transformers GPT-2 {sum(p.numel() for p in theirs.parameters()) / 1e6:.2f}M; batch {args.batch} x {T}; "
          f"qtk {'torch.compile (warm-up incl. compile ' + format(warm, '.1f') + ' s)' if args.compile else 'eager'}")
    for name, tps in results.items():
        print(f"{name:>13}: {tps:,.0f} tokens/s (median of {args.steps} interleaved steps)")
    print(f"ratio qtk / transformers: {results['qtk'] / results['transformers']:.2f}x")


if __name__ == "__main__":
    main()
