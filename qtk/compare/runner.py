"""Run a comparison: every config x every seed under one budget, interleaved round-robin (seed 1 of
every config, then seed 2 ...), each run in its own directory under the comparison directory so
that a rerun skips finished runs and resumes an interrupted one.

Layout of a comparison directory:
    compare.json              budget and each config's name, source and digest (change detection)
    configs/<name>.toml       each config as resolved before the budget is applied
    runs/<name>-s<seed>/      a normal qtk run directory (config.toml, metrics.jsonl, checkpoints)
    runs/<name>-s<seed>/result.json   written once the run has finished and been scored
No printing here: progress goes to a Reporter.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import shutil
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from qtk import checkpoint as ckpt
from qtk import config as qconfig
from qtk.errors import Interrupted, UsageError
from qtk.train.loop import Reporter, train
from qtk.train.preempt import CtrlC

MANIFEST = "compare.json"


@dataclass
class Entry:
    """One config of the comparison, resolved (preset/file, then --set), before the budget."""

    name: str
    source: str
    cfg: qconfig.RunConfig
    toml: str
    digest: str


@dataclass
class Budget:
    kind: str  # tokens | time | flops
    value: float

    def describe(self) -> str:
        return {"tokens": f"{self.value:,.0f} tokens", "time": f"{self.value:g} s",
                "flops": f"{self.value:.3g} FLOPs"}[self.kind] + " per run"


@dataclass
class Comparison:
    entries: list[Entry]
    budget: Budget
    seeds: list[int]
    out_dir: Path
    records: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False
    threads: int = 0
    speed: dict[str, list[float]] | None = None  # side-by-side tokens/s per config and round
    speed_load: tuple[float, float] | None = None  # load average before and after measuring it


class CompareReporter(Reporter):
    """Train progress plus the comparison's own events; every method is optional to override."""

    def run_start(self, name: str, seed: int, index: int, total: int, resumed: bool) -> None: ...
    def run_done(self, record: dict[str, Any], skipped: bool) -> None: ...


def resolve(sources: list[str], names: list[str] | None, size: str, sets: list[tuple[str, str]]) -> list[Entry]:
    """Each source is a TOML file applied on the `size` preset, or a preset name itself."""
    if len(sources) < 2:
        raise UsageError("compare needs at least two configs: a baseline and a variant")
    if names and len(names) != len(sources):
        raise UsageError(f"--name given {len(names)} time(s) for {len(sources)} configs: give one per config or none")
    entries = []
    for i, src in enumerate(sources):
        path = _find(src)
        if path is not None:
            cfg = _load(src, lambda: qconfig.load(size, path, None, sets))
            name = names[i] if names else path.stem
        elif src in qconfig.SIZES:
            cfg = _load(src, lambda: qconfig.load(src, None, None, sets))
            name = names[i] if names else src
        else:
            raise UsageError(f"{src}: no such config file, and not a preset ({', '.join(qconfig.SIZES)})")
        text = qconfig.to_toml(cfg)
        entries.append(Entry(name, src, cfg, text, hashlib.sha256(text.encode()).hexdigest()[:16]))
    seen = [e.name for e in entries]
    dup = sorted({n for n in seen if seen.count(n) > 1})
    if dup:
        raise UsageError(f"two configs are both named {dup[0]!r}: give each a --name")
    _check_same_data(entries)
    return entries


def _find(src: str) -> Path | None:
    """A TOML file as given, else the one shipped with qtk under that name (configs/experiments/
    engram.toml works after `pip install qtk`, away from a checkout)."""
    from qtk.paths import shipped_dir

    path = Path(src)
    if path.is_file():
        return path
    if path.is_absolute() or src in qconfig.SIZES:
        return None
    rel = path.relative_to("configs") if path.parts[:1] == ("configs",) else path
    shipped = shipped_dir("configs") / rel
    return shipped if shipped.is_file() else None


def _load(source: str, fn) -> qconfig.RunConfig:
    try:
        return fn()
    except UsageError as e:
        msg = str(e)
        raise UsageError(msg if msg.startswith(source) else f"{source}: {msg}") from None


def _check_same_data(entries: list[Entry]) -> None:
    """Tokenizers may differ (bits per byte still compares), the text may not."""
    def text_of(e: Entry) -> tuple:
        d = e.cfg.data
        return (d.path, d.corpus if not d.path else "", d.val_fraction)

    base = entries[0]
    for e in entries[1:]:
        if text_of(e) != text_of(base):
            raise UsageError(f"{e.source}: trains on other data than {base.source} ({text_of(e)} vs "
                             f"{text_of(base)}): a comparison needs the same training and held-out text")


def prepare_dir(out_dir: Path, entries: list[Entry], budget: Budget) -> None:
    """Write (or check against) the manifest and the resolved configs; a changed config under an
    existing comparison is an error naming it, and nothing is overwritten."""
    manifest_path = out_dir / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
    if manifest is not None:
        if manifest["budget"] != {"kind": budget.kind, "value": budget.value}:
            old = Budget(**manifest["budget"])
            raise UsageError(f"{out_dir} holds a comparison with a budget of {old.describe()}, not "
                             f"{budget.describe()}: use another -o directory")
        for e in entries:
            old = manifest["configs"].get(e.name)
            if old is not None and old["digest"] != e.digest:
                raise UsageError(f"config {e.name!r} ({e.source}) differs from the one this comparison ran "
                                 f"({out_dir / 'configs' / (e.name + '.toml')}): use another -o directory "
                                 f"or restore it")
    configs = dict(manifest["configs"]) if manifest else {}
    (out_dir / "configs").mkdir(parents=True, exist_ok=True)
    for e in entries:
        if e.name not in configs:
            ckpt.atomic_write(out_dir / "configs" / f"{e.name}.toml", lambda tmp, t=e.toml: Path(tmp).write_text(t))
            configs[e.name] = {"source": e.source, "digest": e.digest}
    data = {"budget": {"kind": budget.kind, "value": budget.value}, "configs": configs}
    ckpt.atomic_write(manifest_path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=1) + "\n"))


def run_config(entry: Entry, seed: int, budget: Budget, curve_points: int) -> qconfig.RunConfig:
    """The entry's config with this seed and the budget applied (after --set: the budget wins)."""
    cfg = copy.deepcopy(entry.cfg)
    t = cfg.train
    train = {"seed": seed, "log_interval": 1, "max_time": 0.0}
    if budget.kind == "time":
        train.update(max_time=float(budget.value), max_steps=0)
    else:
        tokens = budget.value if budget.kind == "tokens" else budget.value / _flops_per_token(cfg)
        steps = max(1, math.ceil(tokens / (t.batch_size * cfg.model.block_size)))
        train.update(max_steps=steps, eval_interval=max(1, steps // max(1, curve_points)))
    qconfig.apply(cfg, {"train": train})
    qconfig.validate(cfg)
    return cfg


def _flops_per_token(cfg: qconfig.RunConfig) -> float:
    from qtk.data.prepare import prepare
    from qtk.model.gpt import padded_vocab
    from qtk.train.flops import model_flops_per_token

    m = copy.deepcopy(cfg.model)
    if not m.vocab_size:
        m.vocab_size = padded_vocab(prepare(cfg.data).tokenizer.vocab_size)
    return model_flops_per_token(m)[1]


def run(entries: list[Entry], budget: Budget, seeds: list[int], out_dir: Path, *, threads: int = 0,
        curve_points: int = 8, speed_rounds: int = 3, reporter: CompareReporter | None = None) -> Comparison:
    """Train and score every (config, seed), round-robin; Ctrl-C keeps what finished. Once all
    runs are done, `speed_rounds` rounds of side-by-side steps measure throughput (0: skip)."""
    rep = reporter or CompareReporter()
    if threads:
        torch.set_num_threads(threads)
    prepare_dir(out_dir, entries, budget)
    comp = Comparison(entries, budget, seeds, out_dir, threads=torch.get_num_threads())
    plan = [(e, s) for s in seeds for e in entries]
    # while a run trains its loop holds Ctrl-C and stops at a step boundary; around the runs, the
    # first Ctrl-C stops after the run in hand, whose result is kept
    with CtrlC(rep.notice, "stopping after this run") as stop:
        for i, (entry, seed) in enumerate(plan):
            run_dir = out_dir / "runs" / f"{entry.name}-s{seed}"
            done = run_dir / "result.json"
            if done.is_file():
                comp.records.append(json.loads(done.read_text()))
                rep.run_done(comp.records[-1], skipped=True)
                continue
            rep.run_start(entry.name, seed, i, len(plan), _resumable(run_dir))
            try:
                record = _train_one(entry, seed, run_dir, budget, curve_points, rep)
            except (Interrupted, KeyboardInterrupt):
                comp.interrupted = True
                break
            ckpt.atomic_write(done, lambda tmp, r=record: Path(tmp).write_text(json.dumps(r, indent=1) + "\n"))
            comp.records.append(record)
            rep.run_done(record, skipped=False)
            if stop.pressed:  # pressed during the final evaluation: that run is kept
                comp.interrupted = True
                break
    if speed_rounds and not comp.interrupted:  # outside CtrlC: Ctrl-C here stops at once
        from qtk.compare.speed import probe

        rep.notice(f"measuring training throughput side by side ({speed_rounds} rounds)")
        try:
            before = os.getloadavg()[0]
            comp.speed = probe({e.name: out_dir / "runs" / f"{e.name}-s{seeds[0]}" for e in entries}, speed_rounds)
            comp.speed_load = (before, os.getloadavg()[0])
        except KeyboardInterrupt:  # every run is kept; the table falls back to the runs' own rates
            comp.interrupted = True
    return comp


def _resumable(run_dir: Path) -> bool:
    return (run_dir / "last.safetensors").is_file() and (run_dir / "last.state.safetensors").is_file()


def _train_one(entry: Entry, seed: int, run_dir: Path, budget: Budget, curve_points: int,
               rep: Reporter) -> dict[str, Any]:
    cfg = run_config(entry, seed, budget, curve_points)
    resumable = _resumable(run_dir)
    if not resumable and run_dir.exists():
        # stopped before its first checkpoint: nothing to keep, and a fresh start must not append
        # to the old metrics
        for stale in ("metrics.jsonl", "tb"):
            p = run_dir / stale
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    load_before = os.getloadavg()[0]
    device = _reset_peak()
    res = train(cfg, None if resumable else str(run_dir), str(run_dir) if resumable else None, rep)
    saved = qconfig.from_dict(qconfig.read_toml(run_dir / "config.toml"))  # vocab_size resolved
    from qtk.train.flops import model_flops_per_token

    params, fpt = model_flops_per_token(saved.model)
    return {
        "config": entry.name, "seed": seed, "val_bpb": res.val_bpb, "val_loss": res.val_loss,
        "steps": res.steps, "tokens": res.tokens, "train_s": res.elapsed_s, "params": params,
        "flops_per_token": fpt, "tokens_per_s": _median_step_throughput(run_dir, res.tokens_per_s),
        "peak_mem_mb": _peak_mb(device), "peak_mem_kind": "cuda allocated" if device else "process RSS",
        "tokenizer": _tokenizer_label(saved.data),
        "load_before": load_before, "load_after": os.getloadavg()[0], "resumed": resumable,
        "curve": read_curve(run_dir, cfg.train.batch_size * cfg.model.block_size),
    }


def _tokenizer_label(data: qconfig.DataConfig) -> str:
    return f"bpe-{data.bpe_vocab_size}" if data.tokenizer == "bpe" else data.tokenizer


def _median_step_throughput(run_dir: Path, fallback: float) -> float:
    """Median over steps of tokens/s: a step that also ran a periodic evaluation (or the first,
    which allocates) is an outlier the median ignores."""
    rates = [r["tokens_per_s"] for r in _records(run_dir) if "tokens_per_s" in r]
    return statistics.median(rates) if rates else fallback


def _records(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def read_curve(run_dir: Path, tokens_per_step: int) -> list[dict[str, float]]:
    """Periodic held-out evaluations as (tokens, elapsed s, loss, bpb), one per step: a resumed
    run may have evaluated a step twice, and the later record wins."""
    points: dict[int, dict[str, float]] = {}
    for r in _records(run_dir):
        if "val_loss" in r:
            points[r["step"]] = {"tokens": r["step"] * tokens_per_step, "elapsed": r["elapsed"],
                                 "loss": r["val_loss"], "bpb": r["val_bpb"]}
    return [points[s] for s in sorted(points)]


def _reset_peak() -> torch.device | None:
    """Start a fresh peak-memory window; returns the CUDA device measured, or None for the CPU."""
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
        return torch.device("cuda")
    try:  # Linux: writing 5 resets the process's peak resident set (VmHWM) to its current size
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return None


def _peak_mb(device: torch.device | None) -> float:
    if device is not None:
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
