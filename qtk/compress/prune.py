"""`qtk compress`: prune a checkpoint's linear layers by magnitude or Wanda (Sun et al. 2023) to
an unstructured or N:M sparsity, check the result exactly, measure before/after on one protocol,
and write a normal checkpoint (zeros in the weights, the recipe in its meta)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

from qtk import checkpoint
from qtk.compress import calib, common, measure, semistructured
from qtk.compress import sparsity as sps
from qtk.errors import QtkError, UsageError

METHODS = ("magnitude", "wanda")


def _prune_layer(name: str, weight: torch.Tensor, sp: sps.Sparsity, method: str,
                 col_norm: torch.Tensor | None) -> None:
    weight.data[sps.mask(sps.scores(weight, method, col_norm), sp, name)] = 0.0


def prune_model(model: nn.Module, targets: dict[str, nn.Linear], sp: sps.Sparsity, method: str,
                seqs: torch.Tensor | None = None, progress: Callable[[str], None] | None = None) -> None:
    """Zero the weights in place: all at once for magnitude, block by block for Wanda."""
    for name, lin in targets.items():  # fail fast on shapes before any calibration work
        if sp.structured and lin.in_features % sp.m:
            raise UsageError(f"{name}: {lin.in_features} input features are not a multiple of M={sp.m}")
    if method == "magnitude":
        for name, lin in targets.items():
            _prune_layer(name, lin.weight, sp, method, None)
        return

    def process(group: dict[str, tuple[nn.Linear, calib.InputStats]]) -> None:
        for name, (lin, stats) in group.items():
            _prune_layer(name, lin.weight, sp, method, stats.col_norm())

    calib.sequential(model, seqs, targets, ("sqnorm",), process, progress=progress)


def verify(model: nn.Module, names: list[str], sp: sps.Sparsity) -> tuple[list[dict], float]:
    """Exact checks per pruned tensor and overall; returns per-layer rows and the overall sparsity."""
    rows, zeros, total = [], 0, 0
    for name in names:
        w = model.get_submodule(name).weight.detach()
        rows.append({"name": name, "shape": list(w.shape), "sparsity": sps.check(w, sp, name)})
        zeros += int((w == 0).sum().item())
        total += w.numel()
    overall = zeros / max(1, total)
    if abs(overall - sp.fraction) > sps.TOLERANCE:
        raise QtkError(f"achieved sparsity {overall:.4%} over the pruned layers is not within 0.01% "
                       f"of {sp.fraction:.4%}")
    return rows, overall


def _prune_all(model: nn.Module, sp: sps.Sparsity, method: str, include_embeddings: bool,
               seqs: torch.Tensor | None, progress: Callable[[str], None] | None) -> tuple[list[str], list[str]]:
    """Prune every target in place; returns the pruned tensors' module names and notes."""
    targets, notes = common.linear_targets(model, include_embeddings)
    names = list(targets)
    if include_embeddings and common.tied_head(model):
        notes.append("head is tied to the token embedding: pruning the head prunes wte too")
    prune_model(model, targets, sp, method, seqs, progress)
    if include_embeddings and not common.tied_head(model) and hasattr(model, "wte"):
        if method == "wanda":
            notes.append("wte (an embedding lookup, no input activations) pruned by magnitude")
        _prune_layer("wte", model.wte.weight, sp, "magnitude", None)
        names.append("wte")
    return names, notes


def _speed(dense: nn.Module | None, model: nn.Module, names: list[str], sp: sps.Sparsity, dev: torch.device,
           rounds: int) -> dict:
    """Dense-kernel tokens/s before and after, and the 2:4 sparse kernels where they exist."""
    speed: dict = {"device": str(dev)}
    if not rounds:
        speed["sparse_kernel"] = {"available": False, "reason": "not timed"}
        return speed
    speed.update(measure.speeds({"before": dense, "after": model}, dev, rounds=rounds))
    if (sp.n, sp.m) == (2, 4):
        speed["sparse_kernel"] = semistructured.speed(model, [n for n in names if n != "wte"], dev)
    else:
        speed["sparse_kernel"] = {"available": False, "reason": "hardware sparse kernels exist for 2:4 only"}
    return speed


def compress(path: str | Path, method: str, sparsity: str, out: str | Path, *, calib_n: int = 128,
             include_embeddings: bool = False, force: bool = False, eval_tokens: int = 32768,
             device: str = "auto", seed: int = 0, speed_rounds: int = 3,
             progress: Callable[[str], None] | None = None) -> dict:
    """Prune, check, measure and save; returns the report (see the CLI for its rendering)."""
    if method not in METHODS:
        raise UsageError(f"--method {method!r}: expected one of {', '.join(METHODS)}")
    sp = sps.parse(sparsity)
    ck, out, dev, model, data, proto = common.open_job(path, "compress", out, force, device, eval_tokens)
    say = progress or (lambda s: None)
    say("scoring the dense model")
    before = measure.held_out(model, proto, {ck.tokenizer.eot_id}, dev)
    n_params, nz_before = common.count_params(model)
    dense = copy.deepcopy(model) if speed_rounds else None  # timed side by side with the pruned model
    seqs = calib.calibration_batch(data.train, calib_n, ck.cfg.model.block_size, seed) if method == "wanda" else None
    say(f"pruning ({method}, {sp.text})")
    names, notes = _prune_all(model, sp, method, include_embeddings, seqs, progress)
    layers, achieved = verify(model, names, sp)
    say("scoring the pruned model")
    after = measure.held_out(model, proto, {ck.tokenizer.eot_id}, dev)
    speed = _speed(dense, model, names, sp, dev, speed_rounds)

    calib_used = calib_n if method == "wanda" else 0
    meta = {k: v for k, v in ck.meta.items() if k != "compression"}
    meta["compression"] = {"method": method, "sparsity": sp.text, "target": sp.fraction, "achieved": achieved,
                           "calib": calib_used, "seed": seed, "layers": names, "source": str(ck.path)}
    checkpoint.save(out, checkpoint.model_state(model), ck.cfg, ck.tokenizer, meta)
    notes.append("zeros are stored densely: the file is no smaller (quantize it, or use a sparse kernel, to gain)")
    return {
        "source": str(ck.path), "output": str(out), "method": method, "sparsity": sp.text,
        "target_sparsity": sp.fraction, "achieved_sparsity": achieved, "calib_sequences": calib_used,
        "layers": layers, "params": n_params, "nonzero_before": nz_before,
        "nonzero_after": common.count_params(model)[1],
        "size_before_bytes": common.file_size(ck.path), "size_after_bytes": common.file_size(out),
        "protocol": proto.text, "before": before, "after": after,
        "ppl_delta_pct": measure.delta_pct(before["ppl"], after["ppl"]),
        "bpb_delta_pct": measure.delta_pct(before["bpb"], after["bpb"]),
        "speed": speed, "notes": notes,
    }
