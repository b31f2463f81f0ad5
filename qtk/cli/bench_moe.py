"""Measure what a mixture-of-experts feed-forward costs and buys at your model's width.

Compares the dense SwiGLU MLP with MoE layers (router x top-k x experts E):
total and active parameters, analytic FLOPs per token, and measured forward
and forward+backward time and tokens/s over a sweep of tokens per batch
(median and interquartile range of timed runs after warm-up);
per-expert load on held-out tokens of the built-in corpus (std, CV, MaxVio,
dropped share at the capacity factor); and the layer's grouped dispatch
against a naive per-expert loop (time ratio, equal outputs).

The width comes from --size / --config / --set as for `qtk train` (default
tiny). CPU timings use one thread unless --threads says otherwise.
"""

from pathlib import Path
from typing import List, Optional

import typer

from qtk.cli import common


def command(
    size: Optional[str] = common.size_option(),
    config_file: Optional[Path] = common.config_option(),
    sets: Optional[List[str]] = common.sets_option(),
    routers: str = typer.Option("hash,switch", "--routers", help="MoE routers to compare (registry names)."),
    top_k: str = typer.Option("1,2", "--top-k", help="Experts per token (the hash router runs top-1 only)."),
    experts: str = typer.Option("4,8,16,32", "--experts", "-E", help="Numbers of experts E."),
    tokens: str = typer.Option("1,16,256,4096", "--tokens", help="Tokens per batch to time."),
    repeat: int = typer.Option(5, "--repeat", help="Timed runs per measurement (more when a call is short)."),
    warmup: int = typer.Option(2, "--warmup", help="Untimed runs before each measurement."),
    capacity_factor: Optional[float] = typer.Option(
        None, "--capacity-factor", help="Expert capacity factor for drops (0 = no limit). Default model.moe's."),
    route_tokens: int = typer.Option(16384, "--route-tokens", help="Held-out tokens whose routing is measured."),
    train_steps: int = typer.Option(
        0, "--train-steps", help="Train the embedding+layer probe this many steps before routing (0 = fresh init)."),
    dispatch_tokens: Optional[str] = typer.Option(
        None, "--dispatch-tokens", help="Tokens for the dispatch comparison. Default the largest --tokens."),
    corpus: Optional[str] = typer.Option(None, "--corpus", help="auto | shakespeare | pydoc. Default data.corpus."),
    device: Optional[str] = common.device_option(None, common.DEVICE_HELP + " Default train.device."),
    threads: int = typer.Option(
        1, "--threads", help="torch CPU threads; 1 keeps numbers steady on a shared machine, 0 = torch's default."),
    seed: int = common.seed_option(0, "Seed of the layers' initialisation and the probe's batches."),
    plot: Optional[Path] = typer.Option(
        None, "--plot", help="Write load histogram and time-vs-tokens figure (needs qtk[plot])."),
    as_json: bool = common.json_option("Print one JSON object with every measurement on stdout."),
) -> None:
    from qtk import config
    from qtk.tools.bench_moe import BenchOptions, bench_moe, parse_ints, parse_names

    opts = BenchOptions(
        routers=parse_names(routers, "--routers"), top_ks=parse_ints(top_k, "--top-k"),
        experts=parse_ints(experts, "--experts"), tokens=parse_ints(tokens, "--tokens"), warmup=warmup,
        repeat=repeat, capacity_factor=capacity_factor, route_tokens=route_tokens, train_steps=train_steps,
        dispatch_tokens=parse_ints(dispatch_tokens, "--dispatch-tokens") if dispatch_tokens else None,
        threads=threads, seed=seed)
    opts.check()
    flags = {"data.corpus": corpus, "train.device": device}
    cfg = config.load(size or "tiny", config_file, flags, common.parse_sets(sets))
    console = common.err_console()
    with console.status("bench-moe") as status:
        result = bench_moe(cfg, opts, progress=lambda msg: status.update(f"bench-moe: {msg}"))
    if plot is not None:
        from qtk.tools.bench_moe.plot import save_plot

        console.print(f"wrote {save_plot(result, plot)}")
    if as_json:
        common.print_json(result)
        return
    from qtk.tools.bench_moe.report import tables

    out = common.out_console()
    m, c = result["machine"], result["config"]
    out.print(f"{m['device']} ({c['device']}, {c['dtype']}, {m['threads']} threads, torch {m['torch']}), {m['date']}")
    for table in tables(result):
        out.print(table)
