"""FSDP2 (PyTorch `fully_shard`, per-parameter sharding on dim 0 as torchtitan uses it): every block
is sharded, then the root, so a block's parameters are gathered just before it runs and freed after;
on GPU a mixed-precision policy computes in bf16 and reduces gradients in fp32.

Checkpoints of a `train.parallel = "fsdp"` run are written with torch.distributed.checkpoint (DCP):
each process writes its shards into `.last.dcp.tmp-STEP/`, which becomes `last.dcp/` by renames
once every process has finished (a complete directory or none), and DCP reshards on load, so a run
resumes on any number of processes. The consolidated model (`last.safetensors`, `best.safetensors`)
is written beside it at every save, so `qtk eval`/`generate`/`export-onnx` read FSDP runs as any other.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from qtk import plan, registry
from qtk.errors import QtkError, UsageError
from qtk.train import state

DCP_DIR = "last.dcp"
TRAIN_STATE = "train_state.safetensors"  # rank 0's RNG states + step, inside the DCP directory


def unshardable(model_cfg: Any) -> list[str]:
    """Components registered with fsdp=False (they cannot run with sharded parameters)."""
    return [f"{kind} {name!r}" for kind, name in plan.used(model_cfg) if registry.attr(kind, name, "fsdp", True) is False]


def shard(model: torch.nn.Module, device: torch.device, amp: torch.dtype | None) -> None:
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    bad = unshardable(model.cfg)
    if bad:
        raise UsageError(f"train.parallel = fsdp: {', '.join(bad)} cannot be sharded; use train.parallel = ddp")
    kwargs = {}
    if device.type == "cuda" and amp is not None:
        kwargs["mp_policy"] = MixedPrecisionPolicy(param_dtype=amp, reduce_dtype=torch.float32)
    for block in model.blocks:
        fully_shard(block, **kwargs)
    fully_shard(model, **kwargs)


def _barrier(tr: Any) -> None:
    if tr.dist.active:
        dist.barrier()


def save(tr: Any, elapsed: float, val_loss: float | None, improved: bool = False) -> None:
    """Collective: every process calls it. Sharded resume state, then the consolidated model files."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict, get_state_dict

    run_dir: Path = tr.run_dir
    tmp = run_dir / f".{DCP_DIR}.tmp-{tr.step}"
    if tr.dist.main and tmp.exists():
        shutil.rmtree(tmp)  # left by a process killed mid-save
    _barrier(tr)
    model_sd, optim_sd = get_state_dict(tr.model, tr.optimizer)
    dcp.save({"model": model_sd, "optim": optim_sd}, checkpoint_id=str(tmp))
    full = get_model_state_dict(tr.model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if tr.dist.main:
        save_file({k: v.contiguous() for k, v in state.rng_state(tr).items()}, str(tmp / TRAIN_STATE),
                  metadata={"extra": json.dumps(state.extra(tr, elapsed))})
        _commit(tmp, run_dir / DCP_DIR)
        full = {k: v.detach().contiguous().cpu() for k, v in full.items()}
        if tr.cfg.model.tie_embeddings:
            full.pop("head.weight", None)
        state.write_model_files(tr, full, val_loss, improved)
    _barrier(tr)


def _commit(tmp: Path, final: Path) -> None:
    """Swap the new directory in: a kill between the two renames leaves .last.dcp.old, which
    restore() falls back to."""
    old = final.with_name(f".{final.name}.old")
    if old.exists() and final.exists():
        shutil.rmtree(old)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def restore(tr: Any) -> None:
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    found = [d for d in (tr.run_dir / DCP_DIR, tr.run_dir / f".{DCP_DIR}.old") if (d / TRAIN_STATE).is_file()]
    if not found:
        raise UsageError(f"--resume {tr.run_dir}: no {DCP_DIR}/ to resume an fsdp run from")
    model_sd, optim_sd = get_state_dict(tr.model, tr.optimizer)
    sd = {"model": model_sd, "optim": optim_sd}
    try:
        dcp.load(sd, checkpoint_id=str(found[0]))
    except Exception as e:  # DCP raises its own CheckpointException, wrapping each rank's error
        raise QtkError(f"{found[0]}: cannot load this sharded checkpoint ({str(e).splitlines()[0][:160]})") from None
    set_state_dict(tr.model, tr.optimizer, model_state_dict=sd["model"], optim_state_dict=sd["optim"])
    rng = load_file(str(found[0] / TRAIN_STATE))
    with safe_open(str(found[0] / TRAIN_STATE), framework="pt") as f:
        ext = json.loads((f.metadata() or {})["extra"])
    state.apply_extra(tr, ext)
    state.set_rng_state(tr, rng)
