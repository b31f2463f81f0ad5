"""The training loop: AdamW with warm-up + cosine, gradient accumulation, clipping, bf16
autocast on GPU, periodic validation, atomic last/best checkpoints, exact resume, DDP. A run can
start from trained weights (qtk.finetune: full fine-tuning, LoRA, QLoRA) and train on chat data
(qtk.data.chat: windows start at conversations, targets only on the assistant's tokens).

`train()` is the whole job; the CLI passes a Reporter to see progress. No printing here.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from qtk import checkpoint as ckpt
from qtk import config as qconfig
from qtk.data.prepare import prepare
from qtk.data.stream import StreamedBatches
from qtk.data.tokenizer import from_json
from qtk.device import autocast_dtype, resolve_device
from qtk.errors import Interrupted, Preempted, QtkError, UsageError
from qtk.eval import evaluate
from qtk.finetune import start as finetune
from qtk.model import GPT
from qtk.model.gpt import padded_vocab, weight_decay_split
from qtk.train import dist, sharded, sizing, state
from qtk.train.flops import flops_per_token
from qtk.train.preempt import PreemptGuard, StopNow, requeue
from qtk.train.schedule import lr_at
from qtk.train.throughput import StepClock, active_non_embedding_params, device_peak


GPU_SIZED = 30e6  # parameters from which a preset is meant for a GPU (medium, large)
OOM_RETRY_STEPS = 3  # an out-of-memory error this early halves the micro-batch once


class Reporter:
    """Receives progress; every method is optional to override."""

    def notice(self, msg: str) -> None: ...
    def tokenize(self, done: int, total: int) -> None: ...
    def start(self, info: dict[str, Any]) -> None: ...
    def step(self, rec: dict[str, Any]) -> None: ...
    def eval(self, rec: dict[str, Any]) -> None: ...
    def finish(self) -> None: ...


@dataclass
class TrainResult:
    run_dir: str
    checkpoint: str
    steps: int
    tokens: int
    train_loss: float
    val_loss: float
    val_bpb: float
    tokens_per_s: float  # of the training steps alone (no evaluation or checkpoint time)
    mfu: float | None  # model FLOPs utilisation; None on a GPU missing from the peak table
    flops_per_token: float
    peak_flops: float | None
    params: int
    elapsed_s: float
    fit: dict  # the memory plan: micro_batch_size, estimate_bytes, available_bytes, step_s, ...
    trainable_params: int = 0
    merged: str = ""  # finetune.merge: the plain checkpoint written from the adapters


def new_run_dir(out_dir: str | None) -> Path:
    run_dir = Path(out_dir) if out_dir else Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    if (run_dir / "last.safetensors").exists() or (run_dir / "best.safetensors").exists():
        raise UsageError(f"{run_dir} already holds a run: continue it with --resume {run_dir} or pick a new --out-dir")
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"--out-dir {run_dir} is a file")
    return run_dir


class Trainer:
    def __init__(self, cfg: qconfig.RunConfig, run_dir: Path, reporter: Reporter, resume: bool) -> None:
        self.cfg, self.run_dir, self.rep, self.resuming = cfg, run_dir, reporter, resume
        t = cfg.train
        self.device = resolve_device(t.device)
        self.dist = dist.setup(self.device.type)
        if self.device.type == "cuda" and self.dist.active:
            self.device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(self.device)
        self.amp = autocast_dtype(t.dtype, self.device)
        if t.batch_size % self.dist.world or (t.micro_batch_size and t.batch_size % (t.micro_batch_size * self.dist.world)):
            raise UsageError(f"train.batch_size ({t.batch_size}) must be a multiple of micro_batch_size "
                             f"({t.micro_batch_size or 1}) x processes ({self.dist.world})")
        self.per_rank = t.batch_size // self.dist.world
        self.set_micro(t.micro_batch_size or self.per_rank)  # until the probe in setup() picks one
        self.fit: sizing.Plan | None = None
        self._oom_retried = False
        self.step, self.best_val, self.last_loss = 0, math.inf, math.nan
        self.elapsed_before = 0.0
        self.base, self.meta = None, {}  # the fine-tuning base; metadata every checkpoint carries
        self.guard = PreemptGuard(self.rep.notice)  # entered by train(); inert until then
        self.fsdp = t.parallel == "fsdp"  # sharded checkpoints even on one process, to resume on any number

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        saved_tok = self.run_dir / "tokenizer.json"
        tok = from_json(json.loads(saved_tok.read_text())) if self.resuming and saved_tok.is_file() else None
        if self.cfg.finetune.init_from:
            self.base = finetune.open_base(self.cfg)
            tok = tok or self.base.ck.tokenizer
        self.data = prepare(self.cfg.data, tok, self._tokenize_progress, self.rep.notice)
        self.tok = self.data.tokenizer
        if self.base is not None:
            self.cfg.model.vocab_size = finetune.vocab_size(self.base, self.cfg, self.tok)
        elif self.cfg.model.vocab_size == 0:
            self.cfg.model.vocab_size = padded_vocab(self.tok.vocab_size)
        elif self.cfg.model.vocab_size < self.tok.vocab_size:
            raise UsageError(f"model.vocab_size ({self.cfg.model.vocab_size}) is smaller than the "
                             f"tokenizer's ({self.tok.vocab_size})")
        if len(self.data.train) <= self.cfg.model.block_size + 1:
            raise UsageError(f"training data has {len(self.data.train)} tokens, fewer than one context "
                             f"of {self.cfg.model.block_size}: lower model.block_size or add data")
        torch.manual_seed(self.cfg.train.seed)
        if self.base is not None:
            self.model, self.meta = finetune.build(self.base, self.cfg, self.device)
            for note in self.base.notes:
                self.rep.notice(note)
        else:
            self.model = GPT(self.cfg.model).to(self.device)
        if self.fsdp and self.dist.active:  # before the optimizer: sharding replaces the parameters
            sharded.shard(self.model, self.device, self.amp)
        self.optimizer = self._optimizer()
        self.fit = self._fit_memory()
        self.gen = torch.Generator().manual_seed(self.cfg.train.seed)
        self.streams = self._streams() if self.model.uses_stream else None
        if self.resuming:
            (sharded if self.fsdp else state).restore(self)
        self._start_step = self.step
        self.net = self.model
        if self.dist.active and not self.fsdp:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        if self.cfg.train.compile:
            self.net = torch.compile(self.net)
        if self.dist.main:
            self._write_run_files()

    def set_micro(self, micro: int) -> None:
        self.micro, self.accum = micro, self.per_rank // micro

    def _fit_memory(self) -> sizing.Plan:
        """Probe one micro-batch's memory and time, pick the micro-batch that fits (or check the
        configured one), and say what to expect. The probe draws no random numbers that the run
        uses (fixed windows, RNG state restored), so a run's curve does not depend on it."""
        t = self.cfg.train
        held = sizing.rss_now() if self.device.type == "cpu" else torch.cuda.memory_allocated(self.device)
        budget = sizing.budget(self.device, t.memory_limit)
        T = self.cfg.model.block_size

        def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
            return self.fetch(torch.arange(n) * (T + 1) % max(1, len(self.data.train) - T - 1))

        def autocast():
            return torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None)

        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            p = sizing.probe(self.model, 2, batch, autocast)  # AdamW keeps two moments per parameter
        plan = sizing.choose(p, budget, self.per_rank, t.micro_batch_size, held)
        self.set_micro(plan.micro_batch_size)
        self._advise(plan, p)
        return plan

    def _advise(self, plan: sizing.Plan, p: sizing.Probe) -> None:
        t = self.cfg.train
        h = sizing.human
        total = t.max_time if t.max_time and not t.max_steps else plan.step_s * max(0, t.max_steps - self.step)
        fit = (f"micro-batch {plan.micro_batch_size} x {self.accum} accumulation step(s): about "
               f"{h(plan.estimate_bytes)} of {h(plan.available_bytes)} ({plan.source})")
        if not plan.fits:
            what = "train.micro_batch_size" if plan.explicit else "even micro-batch 1"
            self.rep.notice(f"{what} may not fit in memory: {fit}; lower it or train.batch_size, "
                            "or use a smaller model")
        self.rep.notice(f"{fit}; about {sizing.duration(plan.step_s)} per step, "
                        f"{sizing.duration(total)} for the run (probe: {p.probe_s:.1f} s)")
        n = self.model.num_params()
        if self.device.type == "cpu" and n >= GPU_SIZED and total > 3600:
            self.rep.notice(f"this {n / 1e6:.0f}M-parameter model is sized for a GPU: on this CPU the run takes "
                            f"about {sizing.duration(total)}; --size small (~11M parameters) processes roughly "
                            f"{n / 11e6:.0f}x more tokens per second")

    def _streams(self) -> list[tuple[StreamedBatches, Any]]:
        """A model with a stream state (kNN memory) trains on streamed batches: per micro-batch,
        rows that read their text in order, and the stream state that carries each row's memory."""
        import numpy as np

        rng = np.random.default_rng([self.cfg.train.seed, self.dist.rank])
        T, eot = self.cfg.model.block_size, self.tok.eot_id
        return [(StreamedBatches(self.data.train, self.micro, T, eot, rng),
                 self.model.new_stream(self.micro, self.device)) for _ in range(self.accum)]

    def _tokenize_progress(self, done: int, total: int) -> None:
        """Called after each tokenized chunk: a preemption signal stops here, keeping the chunks."""
        if self.guard.received:
            raise Preempted(f"{self.guard.name} while tokenizing: the chunks tokenized so far are kept; "
                            f"run the same command again to continue")
        if self.guard.ctrl_c.pressed:
            self.guard.ctrl_c.acted = True
            raise Interrupted("interrupted while tokenizing: the chunks tokenized so far are kept; "
                              "run the same command again to continue")
        self.rep.tokenize(done, total)

    def _optimizer(self) -> torch.optim.Optimizer:
        t = self.cfg.train
        decay, no_decay = weight_decay_split(self.model)
        groups = [{"params": decay, "weight_decay": t.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        try:
            return torch.optim.AdamW(groups, lr=t.lr, betas=(t.beta1, t.beta2), fused=True)
        except (RuntimeError, TypeError):
            return torch.optim.AdamW(groups, lr=t.lr, betas=(t.beta1, t.beta2))

    def _write_run_files(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        ckpt.atomic_write(self.run_dir / "config.toml",
                          lambda tmp: Path(tmp).write_text(qconfig.to_toml(self.cfg)))
        ckpt.atomic_write(self.run_dir / "tokenizer.json",
                          lambda tmp: Path(tmp).write_text(json.dumps(self.tok.to_json())))

    # ------------------------------------------------------------------ steps
    def batch_indices(self) -> torch.Tensor:
        """Start offsets of this step's global batch; every rank draws the same and takes a slice,
        so N processes see exactly the batch one process would."""
        T = self.cfg.model.block_size
        train = self.data.train
        align = getattr(train, "sample_len", 0)  # a task of fixed-length samples: windows start at one
        starts = getattr(train, "window_starts", None)
        if starts is not None:  # chat: windows begin at a conversation and pack the ones after it
            allowed = torch.from_numpy(starts(T + 1))
            ix = allowed[torch.randint(len(allowed), (self.cfg.train.batch_size,), generator=self.gen)]
        elif align:
            last = (len(train) - T - 1) // align
            ix = torch.randint(last + 1, (self.cfg.train.batch_size,), generator=self.gen) * align
        else:
            ix = torch.randint(len(train) - T - 1, (self.cfg.train.batch_size,), generator=self.gen)
        per_rank = len(ix) // self.dist.world
        return ix[self.dist.rank * per_rank:(self.dist.rank + 1) * per_rank]

    def fetch(self, ix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        T = self.cfg.model.block_size
        train = self.data.train
        rows = torch.stack([torch.from_numpy(train.get(int(i), T + 1)) for i in ix])
        x, y = rows[:, :-1], rows[:, 1:]
        if hasattr(train, "scored"):  # only some targets are scored (mqar: the answers; chat: the assistant's)
            scored = torch.stack([torch.from_numpy(train.scored(int(i) + 1, T)) for i in ix])
            y = y.masked_fill(~scored, -1)
        if self.device.type == "cuda":
            return x.pin_memory().to(self.device, non_blocking=True), y.pin_memory().to(self.device, non_blocking=True)
        return x, y

    def train_step(self, lr: float, stats: bool = False) -> torch.Tensor:
        """One optimizer step; returns the mean loss as a 0-dim tensor (read it only when logging:
        .item() waits for the device). `stats` asks the last micro-batch for component statistics."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        ix = self.batch_indices() if self.streams is None else None
        total = torch.zeros((), device=self.device)
        eot = self.tok.eot_id
        for m in range(self.accum):
            stream = None
            if self.streams is None:
                x, y = self.fetch(ix[m * self.micro:(m + 1) * self.micro])
            else:
                x, y = (torch.from_numpy(a).to(self.device) for a in self.streams[m][0].next())
                stream = self.streams[m][1]
            last = m == self.accum - 1
            sync = last or not self.dist.active
            if self.fsdp and self.dist.active:
                self.model.set_requires_gradient_sync(sync)
            with self.net.no_sync() if not sync and not self.fsdp else contextlib.nullcontext():
                with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None):
                    _, loss = self.net(x, y, doc_start=x == eot, stats=stats and last, stream=stream)
                (loss / self.accum).backward()
            total += loss.detach() / self.accum
        if self.cfg.train.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.train.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return total

    def _step_or_retry(self, lr: float, stats: bool) -> torch.Tensor:
        """train_step; an out-of-memory error in the first steps halves the micro-batch (the same
        global batch through more accumulation) and retries the step once."""
        if self._oom_retried or self.step - self._start_step >= OOM_RETRY_STEPS:
            return self.train_step(lr, stats)
        sampler = self.gen.get_state()
        try:
            return self.train_step(lr, stats)
        except torch.OutOfMemoryError:
            if self.micro % 2:
                raise QtkError(f"out of memory at micro-batch {self.micro}, which cannot be halved: lower "
                               "train.batch_size or use a smaller model") from None
            self._oom_retried = True
            self.optimizer.zero_grad(set_to_none=True)
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            self.gen.set_state(sampler)  # the same batch again
            self.set_micro(self.micro // 2)
            self.rep.notice(f"out of memory at step {self.step + 1}: retrying with micro-batch {self.micro} "
                            f"x {self.accum} accumulation steps (same global batch)")
            return self.train_step(lr, stats)

    def quick_eval(self) -> dict[str, Any]:
        return evaluate(self.model, self.data.val, {self.tok.eot_id}, block_size=self.cfg.model.block_size,
                        batch_size=self.micro, max_tokens=self.cfg.train.eval_tokens,
                        device=self.device, autocast_dtype=self.amp)

    def save(self, elapsed: float, val_loss: float | None, improved: bool = False) -> None:
        (sharded if self.fsdp else state).save(self, elapsed, val_loss, improved)

    def log(self, rec: dict[str, Any]) -> None:
        if not self.dist.main:
            return
        with open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(rec) + "\n")
        if self.tb is not None:
            for k, v in rec.items():
                if k != "step" and isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, rec["step"])

    # ------------------------------------------------------------------ the loop
    def _open_tensorboard(self) -> None:
        self.tb = None
        if self.dist.main:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(self.run_dir / "tb"))
            except ImportError:  # tensorboard not installed: JSONL only
                pass

    def run(self) -> TrainResult:
        t = self.cfg.train
        self._open_tensorboard()
        trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        self.flops = flops_per_token(self.cfg.model, active_non_embedding_params(self.model))
        self.peak, peak_source = device_peak(self.device)
        self.rep.start({"run_dir": str(self.run_dir), "params": self.model.num_params(), "trainable": trainable,
                        "device": str(self.device),
                        "world": self.dist.world, "step": self.step, "max_steps": t.max_steps, "max_time": t.max_time,
                        "data": self.data.source, "tokenizer": self.tok.name, "train_tokens": len(self.data.train),
                        "flops_per_token": self.flops, "peak_flops": self.peak, "peak_source": peak_source})
        start = time.perf_counter()
        self.clock = StepClock()
        val_loss = loss_t = None
        try:
            while True:
                elapsed = self.elapsed_before + time.perf_counter() - start
                out_of_time = bool(t.max_time) and elapsed >= t.max_time
                # one all-reduce for both: every rank stops at the same step
                out_of_time, signalled, interrupted = dist.any_flags(
                    self.dist, [out_of_time, self.guard.received is not None, self.guard.ctrl_c.pressed], self.device)
                if signalled:
                    self._preempted(elapsed)
                if interrupted:
                    self._interrupted(elapsed)
                if out_of_time or (t.max_steps and self.step >= t.max_steps):
                    break
                lr = lr_at(t, self.step, elapsed)
                logging = (self.step + 1) % t.log_interval == 0
                checking = logging or (t.eval_interval and (self.step + 1) % t.eval_interval == 0)
                loss_t = self._step_or_retry(lr, logging)
                self.step += 1
                self.clock.window_steps += 1
                if checking or (t.max_steps and self.step >= t.max_steps):
                    # one device sync and all-reduce per logged / checkpointed step, not per step
                    self.last_loss = self._synced_loss(loss_t)
                if logging:
                    self._log_step(lr, elapsed)
                if t.eval_interval and self.step % t.eval_interval == 0:
                    self.clock.pause()
                    val_loss = self._periodic_eval(elapsed)
                    self.clock.resume()
        except KeyboardInterrupt:  # a second Ctrl-C, inside a step: its state is not saved
            kept = self.run_dir / "last.safetensors"
            raise Interrupted(f"stopped at once during step {self.step + 1}; " + (
                f"the last checkpoint {kept} is kept (continue with --resume {self.run_dir})" if kept.is_file()
                else "no checkpoint was saved yet")) from None
        if loss_t is not None:  # a time budget can end the run between two logged steps
            self.last_loss = dist.mean(self.dist, loss_t.item(), self.device)
        self.clock.window()
        elapsed = self.elapsed_before + time.perf_counter() - start
        # no step in hand from here on: a signal stops the final evaluations themselves (they can be
        # long), the checkpoint is saved, and --resume evaluates it
        self.guard.at_once = True
        try:
            if self.guard.received or self.guard.ctrl_c.pressed:
                raise StopNow
            if not (t.eval_interval and self.step % t.eval_interval == 0 and val_loss is not None):
                val_loss = self._periodic_eval(elapsed)
            return self._finish(elapsed)
        except (StopNow, KeyboardInterrupt):
            self.guard.at_once = False  # a second signal must not break the save below
            if self.guard.received:
                self._preempted(elapsed)
            self._interrupted(elapsed)
            raise  # not reached: both raise
        finally:
            self.guard.at_once = False

    def _synced_loss(self, loss_t: torch.Tensor) -> float:
        loss = dist.mean(self.dist, loss_t.item(), self.device)
        if not math.isfinite(loss):
            raise QtkError(f"loss became {loss} at step {self.step}: stopped; the last good "
                           f"checkpoint is {self.run_dir / 'last.safetensors'}")
        return loss

    def _mfu(self, tokens_per_s: float) -> float | None:
        """Model FLOPs utilisation of all processes' devices together."""
        return tokens_per_s * self.flops / (self.peak * self.dist.world) if self.peak else None

    def _log_step(self, lr: float, elapsed: float) -> None:
        """A metrics record with tokens/s of the steps alone (the loss was synced just before)."""
        tok_per_step = self.cfg.train.batch_size * self.cfg.model.block_size
        steps, seconds = self.clock.window()
        tps = steps * tok_per_step / max(seconds, 1e-9)
        rec = {"step": self.step, "loss": self.last_loss, "lr": lr, "tokens": self.step * tok_per_step,
               "tokens_per_s": tps, "mfu": self._mfu(tps), "elapsed": elapsed, **_router_stats(self.model)}
        self.log(rec)
        self.rep.step(rec)

    def _interrupted(self, elapsed: float) -> None:
        self.guard.ctrl_c.acted = True
        self.save(elapsed, None)
        raise Interrupted(f"interrupted at step {self.step}; checkpoint saved to {self.run_dir / 'last.safetensors'}"
                          f" (continue with --resume {self.run_dir})")

    def _preempted(self, elapsed: float) -> None:
        self.save(elapsed, None)
        what = requeue() if self.cfg.train.on_preempt == "requeue" and self.dist.main else ""
        raise Preempted(f"{self.guard.name or 'preemption signal'} at step {self.step}: checkpoint saved to "
                        f"{self.run_dir / 'last.safetensors'} (continue with --resume {self.run_dir})"
                        + (f"; {what}" if what else ""))

    def _periodic_eval(self, elapsed: float) -> float:
        m = self.quick_eval()
        improved = m["loss"] < self.best_val
        self.best_val = min(self.best_val, m["loss"])
        rec = {"step": self.step, "val_loss": m["loss"], "val_bpb": m["bpb"], "elapsed": elapsed}
        self.log(rec)
        self.rep.eval(rec)
        self.save(elapsed, m["loss"], improved)
        return m["loss"]

    def _finish(self, elapsed: float) -> TrainResult:
        """Score the final model on the whole held-out split."""
        t, T = self.cfg.train, self.cfg.model.block_size
        steps_here = self.step - self._start_step
        tps = steps_here * t.batch_size * T / max(self.clock.total_s, 1e-9)  # the steps alone
        full = evaluate(self.model, self.data.val, {self.tok.eot_id}, block_size=T, batch_size=self.micro,
                        device=self.device, autocast_dtype=self.amp)
        rec = {"step": self.step, "final_val_loss": full["loss"], "final_val_bpb": full["bpb"],
               "final_top1": full["top1"], "final_top5": full["top5"]}
        self.log(rec)
        if self.tb is not None:
            self.tb.close()
        self.rep.finish()
        return TrainResult(
            run_dir=str(self.run_dir), checkpoint=str(self.run_dir / "last.safetensors"), steps=self.step,
            tokens=self.step * t.batch_size * T, train_loss=self.last_loss, val_loss=full["loss"],
            val_bpb=full["bpb"], tokens_per_s=tps, mfu=self._mfu(tps), flops_per_token=self.flops,
            peak_flops=self.peak, params=self.model.num_params(), elapsed_s=elapsed, fit=self.fit.to_dict(),
            trainable_params=sum(p.numel() for p in self.model.parameters() if p.requires_grad))


def _router_stats(model: torch.nn.Module) -> dict[str, float]:
    """Scalar statistics components left in the last forward (e.g. MoE load balance)."""
    stats = getattr(ckpt.unwrap(model), "last_stats", {}) or {}
    return {k: float(v) for k, v in stats.items() if isinstance(v, (int, float)) or getattr(v, "ndim", 1) == 0}


def train(cfg: qconfig.RunConfig, out_dir: str | None = None, resume: str | None = None,
          reporter: Reporter | None = None) -> TrainResult:
    """Train a model as `cfg` says; with `resume`, continue that run directory where it stopped."""
    run_dir = Path(resume) if resume else new_run_dir(out_dir)
    trainer = Trainer(cfg, run_dir, reporter or Reporter(), resume=bool(resume))
    # installed before data preparation: a signal then still ends in a checkpoint at the first step
    with PreemptGuard(trainer.rep.notice) as trainer.guard:
        try:
            trainer.setup()
            result = trainer.run()
            if cfg.finetune.merge and trainer.dist.main:
                from qtk.finetune.merge import merge_checkpoint

                result.merged = merge_checkpoint(run_dir / "last.safetensors", run_dir / "merged.safetensors",
                                                 force=True)["output"]
            return result
        finally:
            dist.teardown(trainer.dist)
