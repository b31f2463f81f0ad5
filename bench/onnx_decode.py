"""ONNX Runtime (CPU) vs torch eager for one qtk model at batch 1: prefill latency and per-token
decode latency with the KV cache (torch: qtk's KVCache; ONNX: the --with-past export, past
keys/values fed back as inputs; torch with the (in, out) weight layout `qtk generate` uses),
measured in one run and interleaved round by round so machine
noise hits both alike. Target: ONNX Runtime >= 1.5x faster per decoded token.

One thread each by default: on a shared machine torch's second OpenMP thread waits for a time
slice at every parallel region (a tiny model's decode goes from ~0.3 to ~24 ms/token), which
measures the neighbours, not the runtimes; --threads 0 keeps each runtime's default.

The model is a random-init preset (weights do not change the speed) or a checkpoint. The export
goes through `qtk.export.onnx.export_onnx`, so it is parity-checked before it is timed.

Usage: python bench/onnx_decode.py [--size small | --ckpt PATH] [--prefill 128] [--decode 64]
                                   [--rounds 5] [--threads 1] [--opset 18] [--int8] [--int4] [--int4-block 32]
                                   [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import torch

from qtk import checkpoint
from qtk import config as qconfig
from qtk.data.tokenizer import ByteTokenizer
from qtk.export import verify
from qtk.export.onnx import export_onnx
from qtk.export.quantize import quantize
from qtk.export.runtime import OnnxLM
from qtk.generate import torch_step
from qtk.load import build_model
from qtk.model.gpt import GPT, padded_vocab


def preset_checkpoint(size: str, path: Path) -> Path:
    cfg = qconfig.load(size)
    cfg.model.dropout = 0.0
    tok = ByteTokenizer()
    cfg.model.vocab_size = padded_vocab(tok.vocab_size)
    torch.manual_seed(0)
    checkpoint.save(path, checkpoint.model_state(GPT(cfg.model)), cfg, tok, {"step": 0, "bench": "random init"})
    return path


def one_round(step, ids: torch.Tensor, decode: int) -> tuple[float, list[float]]:
    """(prefill seconds, per-token decode seconds) for one prefill + `decode` greedy steps."""
    t0 = time.perf_counter()
    logits = step(ids, True)
    prefill = time.perf_counter() - t0
    times = []
    for _ in range(decode):
        nxt = logits.argmax(-1)[:, None]
        t0 = time.perf_counter()
        logits = step(nxt, False)
        times.append(time.perf_counter() - t0)
    return prefill, times


@torch.no_grad()
def measure(steps: dict, ids: torch.Tensor, decode: int, rounds: int) -> dict[str, dict[str, float]]:
    for make in steps.values():  # warm-up: allocations, ORT's first-run work
        one_round(make(), ids, 4)
    prefill: dict[str, list[float]] = {k: [] for k in steps}
    per_token: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(rounds):
        for name, make in steps.items():  # interleaved: drifting load hits every runtime alike
            p, d = one_round(make(), ids, decode)
            prefill[name].append(p)
            per_token[name].extend(d)
    return {name: {"prefill_ms": 1e3 * statistics.median(prefill[name]),
                   "decode_ms": 1e3 * statistics.median(per_token[name]),
                   "decode_ms_min": 1e3 * min(per_token[name])} for name in steps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="small", help="preset for a random-init model (tiny, small, ...)")
    ap.add_argument("--ckpt", help="a checkpoint instead of a preset")
    ap.add_argument("--prefill", type=int, default=128)
    ap.add_argument("--decode", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="threads for both runtimes (0 = their defaults)")
    ap.add_argument("--opset", type=int, default=18)
    ap.add_argument("--int8", action="store_true", help="also time the onnxruntime int8 model")
    ap.add_argument("--int4", action="store_true", help="also time the onnxruntime int4 (MatMulNBits) model")
    ap.add_argument("--int4-block", type=int, default=32, help="MatMulNBits block size")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ckpt = Path(args.ckpt) if args.ckpt else preset_checkpoint(args.size, tmp / f"{args.size}.safetensors")
        ck = checkpoint.load(ckpt)
        model = build_model(ck)
        t0 = time.perf_counter()
        rep = export_onnx(ckpt, tmp / "fp32.onnx", with_past=True, opset=args.opset, measure_speed=False)
        if not rep["passed"]:
            sys.exit(f"parity failed: {rep['parity']['max_abs_logits_delta']:.3g}")
        print(f"exported in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        files = {"onnx fp32": tmp / "fp32.onnx"}
        for quant in [q for q, on in (("int8", args.int8), ("int4", args.int4)) if on]:
            files[f"onnx {quant}"] = tmp / f"{quant}.onnx"
            quantize(tmp / "fp32.onnx", files[f"onnx {quant}"], quant, block_size=args.int4_block)
        lms = {name: OnnxLM(path, device="cpu", threads=args.threads) for name, path in files.items()}
        parity = {name: verify.max_delta(verify.logits_parity(model, lm, ck.tokenizer.vocab_size)) for name, lm in lms.items()}
        block = model.cfg.block_size
        T = min(args.prefill, block - args.decode - 1)
        ids = torch.randint(0, ck.tokenizer.vocab_size, (1, T), generator=torch.Generator().manual_seed(0))
        decoder = build_model(ck, layout="decode")  # torch as `qtk generate` runs it (qtk/model/layout.py)
        steps = {"torch eager": lambda: torch_step(decoder)} | {n: lm.step for n, lm in lms.items()}
        res = measure(steps, ids, args.decode, args.rounds)
    report(args, model, T, res, parity)


def report(args, model: GPT, T: int, res: dict, parity: dict) -> None:
    base = res["torch eager"]
    for row in res.values():
        row["decode_speedup"] = base["decode_ms"] / row["decode_ms"]
        row["prefill_speedup"] = base["prefill_ms"] / row["prefill_ms"]
    import onnxruntime

    meta = {"date": date.today().isoformat(), "machine": f"{platform.machine()} {platform.processor()}".strip(),
            "threads": args.threads or f"default (torch {torch.get_num_threads()})", "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__, "model": args.ckpt or f"{args.size} (random init)",
            "params": model.num_params(), "prefill_tokens": T, "decode_tokens": args.decode, "rounds": args.rounds,
            "opset": args.opset, "parity": parity}
    if args.json:
        print(json.dumps({**meta, "results": res}, indent=2))
        return
    print(f"{meta['model']}, {meta['params'] / 1e6:.1f}M params, batch 1, prefill {T} tokens, "
          f"{args.decode} decode steps x {args.rounds} rounds, threads {meta['threads']}; "
          f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}")
    print(f"{'runtime':<12} {'prefill ms':>11} {'decode ms/tok':>14} {'(min)':>8} {'tok/s':>8} "
          f"{'decode vs torch':>16} {'prefill vs torch':>17}")
    for name, r in res.items():
        print(f"{name:<12} {r['prefill_ms']:>11.2f} {r['decode_ms']:>14.3f} {r['decode_ms_min']:>8.3f} "
              f"{1e3 / r['decode_ms']:>8.0f} {r['decode_speedup']:>15.2f}x {r['prefill_speedup']:>16.2f}x")


if __name__ == "__main__":
    main()
