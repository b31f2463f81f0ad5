"""The CuPy kernels of issue 4 against their peers, on a CUDA GPU:

- selected-block attention (NSA's selected branch: 16 blocks of 64 per query, block 0 and the 2
  local blocks always among them, the rest random earlier blocks) forward and backward vs dense
  causal `F.scaled_dot_product_attention` (flash) at T = 4k, 16k, 64k, bf16, same heads and
  head dim; targets: faster than dense at 16k, >= 4x forward and >= 3x backward at 64k. Also the
  FLOP rate reached against the device's measured fp32 (CUDA-core, what the kernels use) and
  bf16 (tensor-core, what flash uses) matmul ceilings;
- n-gram hashing (all orders and heads in one launch) and SimHash: tokens/s vs the torch
  references (target >= 5x) and vs the memory-bandwidth bound, bytes read + written / the copy
  bandwidth measured here (target within 2x).

Prints a markdown report (device, date, numbers, ratios) to paste into bench/RESULTS.md.

    python bench/kernels.py [--T 4096,16384,65536] [--heads 16] [--kv-heads 1] [--head-dim 64]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from datetime import date

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from qtk import ops
from qtk.ops.hashing import ngram_hash_ref, simhash_ref

BLOCK, N_SEL = 64, 16


def cuda_ms(fn, warmup: int = 3, repeat: int = 10) -> float:
    """Median milliseconds of fn() by CUDA events."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def ceilings() -> dict[str, float]:
    """Measured: device copy bandwidth (GB/s, read + write) and matmul TFLOP/s in fp32 (no TF32)
    and bf16."""
    x = torch.empty(2**28, dtype=torch.float32, device="cuda")  # 1 GiB
    y = torch.empty_like(x)
    copy_gbs = 2 * x.numel() * 4 / cuda_ms(lambda: y.copy_(x)) / 1e6
    torch.backends.cuda.matmul.allow_tf32 = False
    out = {"copy_GBs": copy_gbs}
    for name, dtype in (("fp32_TFLOPs", torch.float32), ("bf16_TFLOPs", torch.bfloat16)):
        a = torch.randn(8192, 8192, device="cuda", dtype=dtype)
        out[name] = 2 * 8192**3 / cuda_ms(lambda: a @ a) / 1e9
    return out


def nsa_selection(Hkv: int, T: int) -> torch.Tensor:
    """(1, Hkv, T, 16) block indices as NSA picks them: current, first, previous, then random earlier."""
    n_blocks = -(-T // BLOCK)
    out = torch.full((1, Hkv, T, N_SEL), -1, dtype=torch.long, device="cuda")  # -1: fewer blocks than slots
    for t0 in range(0, T, 4096):  # slices keep the (T, n_blocks) scores small at 64k
        t = torch.arange(t0, min(T, t0 + 4096), device="cuda")
        cur = (t // BLOCK)[:, None]
        j = torch.arange(n_blocks, device="cuda")[None, :]
        score = torch.rand(Hkv, t.numel(), n_blocks, device="cuda")
        score = torch.where((j == cur) | (j == 0) | (j == cur - 1), 2.0, score).masked_fill(j > cur, float("-inf"))
        top = score.topk(min(N_SEL, n_blocks), dim=-1)
        out[0, :, t0:t0 + t.numel(), :top.indices.shape[-1]] = torch.where(torch.isinf(top.values), -1, top.indices)
    return out


def visible_pairs(idx: torch.Tensor, T: int) -> float:
    """Sum over queries and kv heads of the keys each one sees (for FLOP counts)."""
    t = torch.arange(T, device="cuda")[None, None, :, None]
    lo = idx * BLOCK
    hi = torch.minimum(torch.minimum(lo + BLOCK, t + 1), torch.full_like(lo, T))
    return ((hi - lo).clamp(min=0) * (idx >= 0)).sum().item()


def bench_attention(T: int, H: int, Hkv: int, D: int, ceil: dict[str, float]) -> dict:
    q = torch.randn(1, H, T, D, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    k = torch.randn(1, Hkv, T, D, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    v = torch.randn(1, Hkv, T, D, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    idx = nsa_selection(Hkv, T)
    grad = torch.randn(1, H, T, D, device="cuda", dtype=torch.bfloat16)
    kd, vd = (t.detach().repeat_interleave(H // Hkv, 1).requires_grad_(True) for t in (k, v))

    def dense():
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            return F.scaled_dot_product_attention(q, kd, vd, is_causal=True)

    def sparse():
        return ops.selected_attention(q, k, v, idx, BLOCK)

    row = {"T": T}
    for name, fn in (("dense", dense), ("sparse", sparse)):
        row[f"{name}_fwd_ms"] = cuda_ms(lambda: fn())
        out = fn()
        inputs = (q, kd, vd) if name == "dense" else (q, k, v)
        row[f"{name}_bwd_ms"] = cuda_ms(lambda: torch.autograd.grad(out, inputs, grad, retain_graph=True))
    pairs = visible_pairs(idx, T) * (H // Hkv)
    row["sparse_fwd_TFLOPs"] = 4 * D * pairs / row["sparse_fwd_ms"] / 1e9
    row["sparse_bwd_TFLOPs"] = 2.5 * 4 * D * pairs / row["sparse_bwd_ms"] / 1e9  # the usual 2.5x accounting
    dense_flops = 4 * D * H * T * (T + 1) / 2
    row["dense_fwd_TFLOPs"] = dense_flops / row["dense_fwd_ms"] / 1e9
    row["fwd_speedup"] = row["dense_fwd_ms"] / row["sparse_fwd_ms"]
    row["bwd_speedup"] = row["dense_bwd_ms"] / row["sparse_bwd_ms"]
    row["sparse_fwd_of_fp32_ceiling"] = row["sparse_fwd_TFLOPs"] / ceil["fp32_TFLOPs"]
    row["dense_fwd_of_bf16_ceiling"] = row["dense_fwd_TFLOPs"] / ceil["bf16_TFLOPs"]
    return row


def bench_hashing(ceil: dict[str, float]) -> list[dict]:
    rows = []
    B, T, orders, heads = 16, 65536, (2, 3), 4
    K = len(orders) * heads
    ids = torch.randint(0, 50_000, (B, T), device="cuda")
    sizes, seeds = [250_007 + 2 * i for i in range(K)], list(range(K))
    kernel_ms = cuda_ms(lambda: ops.ngram_hash(ids, orders, heads, sizes, seeds))
    ref_ms = cuda_ms(lambda: ngram_hash_ref(ids, orders, heads, sizes, seeds))
    moved = B * T * (8 + 8 * K)  # ids read once, K int64 written per token
    name = f"ngram_hash B={B} T={T} orders={orders} heads={heads}"
    rows.append(_hash_row(name, B * T, kernel_ms, ref_ms, moved, ceil))
    N, D, r = 1 << 20, 64, 62
    x = torch.randn(N, D, device="cuda", dtype=torch.bfloat16)
    planes = torch.randn(D, r, device="cuda")
    kernel_ms = cuda_ms(lambda: ops.simhash(x, planes))
    ref_ms = cuda_ms(lambda: simhash_ref(x, planes))
    rows.append(_hash_row(f"simhash N={N} D={D} r={r} bf16", N, kernel_ms, ref_ms, N * (2 * D + 8), ceil))
    return rows


def _hash_row(name, items, kernel_ms, ref_ms, moved, ceil) -> dict:
    bound_ms = moved / (ceil["copy_GBs"] * 1e6)
    return {"op": name, "kernel_Mtok_s": items / kernel_ms / 1e3, "ref_Mtok_s": items / ref_ms / 1e3,
            "speedup_vs_ref": ref_ms / kernel_ms, "GBs": moved / kernel_ms / 1e6,
            "time_over_bandwidth_bound": kernel_ms / bound_ms}


def report(device: str, ceil: dict, att: list[dict], hashing: list[dict], args) -> str:
    lines = [f"## CuPy kernels (issue 4) — {device}, {date.today()}", "",
             f"Ceilings measured here: copy {ceil['copy_GBs']:.0f} GB/s, "
             f"fp32 matmul {ceil['fp32_TFLOPs']:.1f} TFLOP/s, "
             f"bf16 matmul {ceil['bf16_TFLOPs']:.1f} TFLOP/s.", "",
             f"Selected attention, bf16, B=1, H={args.heads}, Hkv={args.kv_heads}, D={args.head_dim}, "
             f"{N_SEL} blocks of {BLOCK} per query, vs dense causal SDPA (flash):", "",
             "| T | dense fwd ms | sparse fwd ms | fwd × | dense bwd ms | sparse bwd ms | bwd × | sparse fwd TFLOP/s "
             "(of fp32 ceiling) | dense fwd TFLOP/s (of bf16 ceiling) |", "|---" * 9 + "|"]
    for r in att:
        lines.append(f"| {r['T']} | {r['dense_fwd_ms']:.2f} | {r['sparse_fwd_ms']:.2f} | {r['fwd_speedup']:.2f} | "
                     f"{r['dense_bwd_ms']:.2f} | {r['sparse_bwd_ms']:.2f} | {r['bwd_speedup']:.2f} | "
                     f"{r['sparse_fwd_TFLOPs']:.1f} ({r['sparse_fwd_of_fp32_ceiling']:.0%}) | "
                     f"{r['dense_fwd_TFLOPs']:.1f} ({r['dense_fwd_of_bf16_ceiling']:.0%}) |")
    lines += ["", "Targets: faster than dense at 16k; ≥ 4× forward and ≥ 3× backward at 64k.", "",
              "| op | kernel Mtok/s | torch ref Mtok/s | × ref | GB/s | time / bandwidth bound |", "|---" * 6 + "|"]
    for r in hashing:
        lines.append(f"| {r['op']} | {r['kernel_Mtok_s']:.0f} | {r['ref_Mtok_s']:.0f} | {r['speedup_vs_ref']:.1f} | "
                     f"{r['GBs']:.0f} | {r['time_over_bandwidth_bound']:.2f} |")
    lines += ["", "Targets: ≥ 5× the torch reference; within 2× of the bandwidth bound."]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--T", default="4096,16384,65536", help="sequence lengths, comma-separated")
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--kv-heads", type=int, default=1)
    p.add_argument("--head-dim", type=int, default=64)
    args = p.parse_args()
    if not torch.cuda.is_available():
        print(f"bench/kernels.py: needs a CUDA GPU (ops backend here: {ops.describe()})", file=sys.stderr)
        return 2
    ops.set_backend("cupy")  # a UsageError naming the reason when CuPy cannot run
    ceil = ceilings()
    att = [bench_attention(int(t), args.heads, args.kv_heads, args.head_dim, ceil) for t in args.T.split(",")]
    print(report(f"{torch.cuda.get_device_name()} ({ops.describe()})", ceil, att, bench_hashing(ceil), args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
