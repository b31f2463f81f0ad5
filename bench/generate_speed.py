"""Generation speed at batch 1 with a KV cache: qtk's decode loop vs transformers' `generate()`
on a GPT-2 with the same layers, width, heads, context and vocabulary; greedy, fixed length.

    python bench/generate_speed.py [--size small] [--new-tokens 200] [--repeat 5]
Prints tokens/s for both and the ratio qtk / transformers (target >= 2)."""

import argparse
import itertools
import sys
from pathlib import Path

import qtk  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch loads)
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import hf_gpt2, machine, median, qtk_model, timed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="small")
    ap.add_argument("--new-tokens", type=int, default=200)
    ap.add_argument("--prompt-tokens", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    from qtk.generate import Sampling, sample_tokens, torch_step

    ours = qtk_model(args.size, 320).eval()
    theirs = hf_gpt2(ours).eval()
    block = ours.cfg.block_size
    if args.prompt_tokens + args.new_tokens > block:
        sys.exit(f"prompt + new tokens must fit the context ({block})")
    prompt = torch.randint(0, 256, (1, args.prompt_tokens), generator=torch.Generator().manual_seed(0))
    greedy = Sampling(temperature=0)

    @torch.no_grad()
    def run_ours():
        tokens = sample_tokens(torch_step(ours), prompt, greedy, 320, block)
        return torch.stack(list(itertools.islice(tokens, args.new_tokens)), 1)

    @torch.no_grad()
    def run_theirs():
        return theirs.generate(prompt, max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens,
                               do_sample=False, use_cache=True, eos_token_id=None, pad_token_id=0,
                               attention_mask=torch.ones_like(prompt))

    times = {"qtk": [], "transformers": []}
    run_ours(), run_theirs()  # warm-up
    for _ in range(args.repeat):  # interleaved so that machine load hits both alike
        times["qtk"] += timed(run_ours, 0, 1)
        times["transformers"] += timed(run_theirs, 0, 1)
    tps = {k: args.new_tokens / median(v) for k, v in times.items()}
    print(f"machine: {machine()}")
    print(f"model: {args.size} dims ({ours.num_params() / 1e6:.2f}M params), batch 1, prompt {args.prompt_tokens}, "
          f"{args.new_tokens} new tokens, greedy, KV cache")
    for name, v in tps.items():
        print(f"{name:>13}: {v:,.1f} tokens/s (median of {args.repeat})")
    print(f"ratio qtk / transformers: {tps['qtk'] / tps['transformers']:.2f}x")


if __name__ == "__main__":
    main()
