"""A training run's checkpoints in its run directory.

`last.safetensors` / `best.safetensors` are the portable model files every command reads.
`last.state.safetensors` is the resume file: optimizer state, RNG states, step and a copy of the
weights, written whole and renamed into place in one step, so a process killed at any moment
(`kill -9` included) leaves a run directory that resumes from the last complete save. It is
written first: if the model file's rename is lost, resuming simply repeats those steps.
FSDP runs keep their resume state sharded instead (qtk/train/sharded.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from qtk import checkpoint as ckpt
from qtk.errors import UsageError
from qtk.finetune import start as finetune

WEIGHTS = "weights."  # prefix of the model tensors inside the resume file


def rng_state(tr: Any) -> dict[str, torch.Tensor]:
    rng = {"sampler": tr.gen.get_state(), "torch": torch.get_rng_state()}
    if tr.device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(tr.device)
    return rng


def set_rng_state(tr: Any, rng: dict[str, torch.Tensor]) -> None:
    tr.gen.set_state(rng["sampler"])
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state(rng["cuda"], tr.device)


def extra(tr: Any, elapsed: float) -> dict[str, Any]:
    out = {"step": tr.step, "best_val": tr.best_val, "elapsed": elapsed}
    if getattr(tr, "streams", None) is not None:  # where each streamed row reads on (kNN memory runs)
        out["stream_cursors"] = [batches.cursor for batches, _ in tr.streams]
    return out


def meta(tr: Any, val_loss: float | None) -> dict[str, Any]:
    """What every checkpoint of the run carries (a fine-tuning run's base and adapter record too)."""
    return {**getattr(tr, "meta", {}), "step": tr.step, "val_loss": val_loss, "train_loss": tr.last_loss,
            "params": tr.model.num_params()}


def save(tr: Any, elapsed: float, val_loss: float | None, improved: bool = False) -> None:
    """The resume file, then last (+ best when val improved)."""
    if not tr.dist.main:
        return
    state = finetune.run_state(tr.model, getattr(tr, "meta", {}))  # all weights, or the adapters only
    tensors = {**rng_state(tr), **{WEIGHTS + k: v for k, v in state.items()}}
    ckpt.save_train_state(tr.run_dir / "last.state.safetensors", tr.optimizer, extra(tr, elapsed), tensors)
    write_model_files(tr, state, val_loss, improved)


def write_model_files(tr: Any, state: dict[str, torch.Tensor], val_loss: float | None, improved: bool) -> None:
    m = meta(tr, val_loss)
    ckpt.save(tr.run_dir / "last.safetensors", state, tr.cfg, tr.tok, m)
    if improved:
        ckpt.save(tr.run_dir / "best.safetensors", state, tr.cfg, tr.tok, m)


def restore(tr: Any) -> None:
    state_file = tr.run_dir / "last.state.safetensors"
    if not state_file.is_file():
        raise UsageError(f"--resume {tr.run_dir}: no last.state.safetensors to resume from")
    opt_state, ext, rng = ckpt.load_train_state(state_file)
    weights = {k[len(WEIGHTS):]: rng.pop(k) for k in list(rng) if k.startswith(WEIGHTS)}
    source = state_file
    if not weights:  # a resume file from before it carried the weights
        source = tr.run_dir / "last.safetensors"
        if not source.is_file():
            raise UsageError(f"--resume {tr.run_dir}: no last.safetensors to resume from")
        weights = ckpt.load(source).state
    finetune.restore(tr.model, ckpt.Checkpoint(source, tr.cfg, tr.tok, weights, _saved_meta(tr)),
                     getattr(tr, "meta", {}))
    tr.optimizer.load_state_dict(opt_state)
    apply_extra(tr, ext)
    set_rng_state(tr, rng)


def _saved_meta(tr: Any) -> dict[str, Any]:
    """The metadata of the run's last model file (an adapter run's base record is checked against it)."""
    last = tr.run_dir / "last.safetensors"
    return ckpt.read_meta(last) if last.is_file() else {}


def apply_extra(tr: Any, ext: dict[str, Any]) -> None:
    tr.step, tr.best_val = ext["step"], ext["best_val"]
    tr.elapsed_before = ext.get("elapsed", 0.0)
    for (batches, _), cursor in zip(getattr(tr, "streams", None) or [], ext.get("stream_cursors", [])):
        batches.cursor = list(cursor)  # the rows read on from here; their memories restart empty
    if tr.dist.main:
        trim_metrics(tr.run_dir / "metrics.jsonl", tr.step)


def trim_metrics(path: Path, step: int) -> None:
    """Drop records past the resumed step (a killed run logged steps its checkpoint does not hold),
    so the resumed run continues one loss curve instead of repeating steps."""
    if not path.is_file():
        return
    lines = path.read_text().splitlines()
    keep = [x for x in lines if _step_of(x) <= step]
    if len(keep) != len(lines):
        ckpt.atomic_write(path, lambda tmp: Path(tmp).write_text("".join(x + "\n" for x in keep)))


def _step_of(line: str) -> float:
    try:
        return json.loads(line).get("step", 0)
    except ValueError:  # a line cut short by a kill
        return float("inf")
