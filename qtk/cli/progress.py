"""rich progress views for long-running core functions (they report through callbacks)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from qtk.train.loop import Reporter


class TrainProgress(Reporter):
    """Tokenizing bar, then a training bar with step, loss, lr, tokens/s and ETA (on stderr)."""

    def __init__(self) -> None:
        self.console = Console(stderr=True, highlight=False)
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=self.console, transient=False,
        )
        self.tok_task = self.task = None
        self.by_time = False

    def __enter__(self) -> "TrainProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def notice(self, msg: str) -> None:
        self.console.print(f"[yellow]note:[/] {msg}")

    def tokenize(self, done: int, total: int) -> None:
        if self.tok_task is None:
            self.tok_task = self.progress.add_task("tokenizing", total=total or None, info="")  # streaming: unknown
        self.progress.update(self.tok_task, completed=done, info=f"{done / 2**20:.1f}/{total / 2**20:.1f} MiB")

    def start(self, info: dict[str, Any]) -> None:
        self.by_time = not info["max_steps"]
        total = info["max_time"] if self.by_time else info["max_steps"]
        self.console.print(
            f"run {info['run_dir']}: {info['params'] / 1e6:.2f}M params"
            + (f" ({info['trainable']:,} trainable)" if info.get("trainable", info["params"]) < info["params"] else "")
            + f" on {info['device']}"
            f" x{info['world']}, data {info['data']} ({info['train_tokens']:,} train tokens, {info['tokenizer']})")
        self.task = self.progress.add_task("train", total=total, info="", completed=0 if self.by_time else info["step"])

    def step(self, rec: dict[str, Any]) -> None:
        done = rec["elapsed"] if self.by_time else rec["step"]
        self.progress.update(self.task, completed=done, info=(
            f"step {rec['step']} loss {rec['loss']:.4f} lr {rec['lr']:.2e} {rec['tokens_per_s']:,.0f} tok/s"
            + _mfu(rec.get("mfu"))))

    def eval(self, rec: dict[str, Any]) -> None:
        self.console.print(f"step {rec['step']}: val loss {rec['val_loss']:.4f}, val bpb {rec['val_bpb']:.4f}")

    def finish(self) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=self.progress.tasks[self.task].total)

    def summary(self, r: Any) -> None:
        self.console.print(
            f"done: {r.steps} steps, {r.tokens:,} tokens, {r.tokens_per_s:,.0f} tok/s{_mfu(r.mfu)}; train loss "
            f"{r.train_loss:.4f}; held-out loss {r.val_loss:.4f}, {r.val_bpb:.4f} bits/byte\n"
            f"checkpoint: {r.checkpoint}")


def _mfu(mfu: float | None) -> str:
    return f" MFU {mfu:.1%}" if mfu is not None else ""


class CompareProgress(TrainProgress):
    """One line per run of a comparison, with the training bar of the run in hand."""

    label = "train"

    def run_start(self, name: str, seed: int, index: int, total: int, resumed: bool) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None
        self.label = f"[{index + 1}/{total}] {name} seed {seed}"
        self.console.print(self.label + (" (resuming)" if resumed else ""))

    def start(self, info: dict[str, Any]) -> None:
        self.by_time = not info["max_steps"]
        total = info["max_time"] if self.by_time else info["max_steps"]
        self.total = total
        self.task = self.progress.add_task(self.label, total=total, info="",
                                           completed=0 if self.by_time else info["step"])

    def finish(self) -> None:  # rich's task list is positional, and earlier runs' tasks are removed
        if self.task is not None:
            self.progress.update(self.task, completed=self.total)

    def eval(self, rec: dict[str, Any]) -> None:  # the curve is in metrics.jsonl; keep the screen short
        pass

    def run_done(self, r: dict[str, Any], skipped: bool) -> None:
        self.console.print(f"{r['config']} seed {r['seed']}: held-out {r['val_bpb']:.4f} bits/byte, "
                           f"{r['tokens']:,} tokens, {r['tokens_per_s']:,.0f} tok/s"
                           + (" (finished earlier)" if skipped else ""), soft_wrap=True)
