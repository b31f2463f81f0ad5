"""qtk bench-moe: what a mixture-of-experts feed-forward costs and buys at a model's width, measured
(parameters, FLOPs, time, routing balance, dispatch efficiency) against the dense SwiGLU MLP."""

from qtk.tools.bench_moe.run import BenchOptions, bench_moe, parse_ints, parse_names

__all__ = ["BenchOptions", "bench_moe", "parse_ints", "parse_names"]
