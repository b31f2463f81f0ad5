"""Generation speed at batch 1 with a KV cache: qtk's decode loop vs transformers' `generate()`
on a GPT-2 with the same layers, width, heads, context and vocabulary; greedy, fixed length.

    python bench/generate_speed.py [--size small] [--new-tokens 200] [--repeat 5] [--compile] [--threads N]
Prints tokens/s for both and the ratio qtk / transformers (target >= 2). --compile measures qtk's
`generate --compile` path (torch.compile'd decode step; the compile happens in the warm-up and is
reported separately); transformers runs its default generate() either way. --threads sets torch's
thread count for both (0 = torch's default). qtk's weights are in the (in, out) layout that
`qtk generate` switches to (qtk/model/layout.py) unless --linear-layout."""

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
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--linear-layout", action="store_true", help="keep nn.Linear's (out, in) weights")
    ap.add_argument("--onnx", action="store_true", help="also time `qtk generate --onnx` (the --with-past "
                    "export of the same preset in onnxruntime, CPU)")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from qtk.generate import Sampling, sample_tokens, torch_step
    from qtk.model.layout import transpose_linears

    ours = qtk_model(args.size, 320).eval()
    theirs = hf_gpt2(ours).eval()
    params = ours.num_params()
    if not args.linear_layout:
        transpose_linears(ours)  # what `qtk generate` does (qtk/model/layout.py)
    block = ours.cfg.block_size
    if args.prompt_tokens + args.new_tokens > block:
        sys.exit(f"prompt + new tokens must fit the context ({block})")
    prompt = torch.randint(0, 256, (1, args.prompt_tokens), generator=torch.Generator().manual_seed(0))
    greedy = Sampling(temperature=0)

    step = torch_step(ours, compile=args.compile)  # one step function: the compiled graph is kept

    @torch.no_grad()
    def run_ours():
        tokens = sample_tokens(step, prompt, greedy, 320, block)
        return torch.stack(list(itertools.islice(tokens, args.new_tokens)), 1)

    @torch.no_grad()
    def run_theirs():
        return theirs.generate(prompt, max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens,
                               do_sample=False, use_cache=True, eos_token_id=None, pad_token_id=0,
                               attention_mask=torch.ones_like(prompt))

    runs = {"qtk": run_ours, "transformers": run_theirs}
    if args.onnx:
        onnx_step = exported_step(args.size, args.threads)

        @torch.no_grad()
        def run_onnx():
            tokens = sample_tokens(onnx_step, prompt, greedy, 320, block)
            return torch.stack(list(itertools.islice(tokens, args.new_tokens)), 1)
        runs["qtk --onnx"] = run_onnx
    times = {name: [] for name in runs}
    warm = timed(run_ours, 0, 1)[0]  # warm-up (and the compile, with --compile)
    for name, fn in runs.items():
        if name != "qtk":
            fn()
    for _ in range(args.repeat):  # interleaved so that machine load hits both alike
        for name, fn in runs.items():
            times[name] += timed(fn, 0, 1)
    tps = {k: args.new_tokens / median(v) for k, v in times.items()}
    print(f"machine: {machine()}")
    print(f"model: {args.size} dims ({params / 1e6:.2f}M params), batch 1, prompt {args.prompt_tokens}, "
          f"{args.new_tokens} new tokens, greedy, KV cache; qtk decode step "
          f"{'torch.compile (warm-up with compile ' + format(warm, '.1f') + ' s)' if args.compile else 'eager'}, "
          f"weights {'(out, in) nn.Linear' if args.linear_layout else '(in, out) transposed'}")
    for name, v in tps.items():
        print(f"{name:>13}: {v:,.1f} tokens/s (median of {args.repeat})")
    print(f"ratio qtk / transformers: {tps['qtk'] / tps['transformers']:.2f}x")
    if args.onnx:
        print(f"ratio qtk --onnx / transformers: {tps['qtk --onnx'] / tps['transformers']:.2f}x")


def exported_step(size: str, threads: int):
    """Step function of the preset exported with past inputs (parity-checked), in onnxruntime."""
    import atexit
    import shutil
    import tempfile

    from onnx_decode import preset_checkpoint

    from qtk.export.onnx import export_onnx
    from qtk.export.runtime import OnnxLM

    tmp = Path(tempfile.mkdtemp(prefix="qtk-bench-"))
    atexit.register(shutil.rmtree, tmp, True)
    ckpt = preset_checkpoint(size, tmp / f"{size}.safetensors")
    rep = export_onnx(ckpt, tmp / "model.onnx", with_past=True, measure_speed=False)
    if not rep["passed"]:
        sys.exit(f"ONNX parity failed: {rep['parity']['max_abs_logits_delta']:.3g}")
    return OnnxLM(tmp / "model.onnx", device="cpu", threads=threads).step()


if __name__ == "__main__":
    main()
