"""Checkpoints: safetensors weights with the resolved config, tokenizer and step in the header
metadata, so one file is a complete model. Training state (optimizer, RNG) goes in a sidecar
`<name>.state.safetensors`. Every write goes to a temp file that is renamed into place. This
module only reads and writes; `qtk.load` builds a runnable model from what it reads.

A plain PyTorch `.pt`/`.pth`/`.bin` state dict is read with `torch.load(weights_only=True)`
when a qtk config.toml sits beside it or is given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from qtk import config as qconfig
from qtk.data.tokenizer import Tokenizer, from_json
from qtk.errors import QtkError, UsageError
from qtk.paths import atomic_write

FORMAT = "qtk-ckpt-v1"
TORCH_SUFFIXES = (".pt", ".pth", ".bin")


@dataclass
class Checkpoint:
    """What a checkpoint file holds: config, tokenizer, weights and metadata (meta "quantization"
    from `qtk quantize`, "compression" from `qtk compress`, "step" from training)."""

    path: Path
    cfg: qconfig.RunConfig
    tokenizer: Tokenizer
    state: dict[str, torch.Tensor]
    meta: dict[str, Any] = field(default_factory=dict)


TIED_KEYS = ("head.weight", "head.new_rows")  # the token embedding's tensors, when the head is tied


def model_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """State dict without tied duplicates (safetensors refuses shared storage)."""
    sd = {k: v.detach().contiguous().cpu() for k, v in unwrap(model).state_dict().items()}
    if getattr(unwrap(model).cfg, "tie_embeddings", False):
        for key in TIED_KEYS:
            sd.pop(key, None)
    return sd


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    while hasattr(model, "module") or hasattr(model, "_orig_mod"):
        model = getattr(model, "module", None) or model._orig_mod
    return model


def save(path: Path, state: dict[str, torch.Tensor], cfg: qconfig.RunConfig, tokenizer: Tokenizer,
         meta: dict[str, Any]) -> None:
    header = {
        "format": FORMAT,
        "config": json.dumps(qconfig.to_dict(cfg)),
        "tokenizer": json.dumps(tokenizer.to_json()),
        "meta": json.dumps(meta),
    }
    atomic_write(Path(path), lambda tmp: save_file(state, tmp, metadata=header))


def load_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """Copy a read state dict into a model of the same shape (wrapper prefixes stripped); any
    missing or unexpected key is an error naming the file."""
    sd = {_strip_prefix(k): v for k, v in state.items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    params = dict(model.named_parameters(remove_duplicate=False))
    loaded = {id(p) for k, p in params.items() if k not in set(missing)}
    missing = [k for k in missing if id(params.get(k)) not in loaded]  # a tied head's weights came with wte
    if missing or unexpected:
        raise QtkError(f"{path}: weights do not match the config "
                       f"(missing {missing[:3]}, unexpected {unexpected[:3]})")


def _strip_prefix(key: str) -> str:
    for prefix in ("_orig_mod.", "module."):
        while key.startswith(prefix):
            key = key[len(prefix):]
    return key


def resolve(path: str | Path, prefer: str = "best") -> Path:
    """A checkpoint file, or the `prefer`red (else the other) checkpoint in a run directory."""
    p = Path(path).expanduser()
    if not p.exists():
        raise UsageError(f"no such checkpoint or run directory: {p}")
    if p.is_dir():
        order = ("best", "last") if prefer == "best" else ("last", "best")
        for name in order:
            if (p / f"{name}.safetensors").is_file():
                return p / f"{name}.safetensors"
        for pattern in ("*.safetensors", "*.pt"):
            found = sorted(f for f in p.glob(pattern) if not f.name.endswith(".state.safetensors"))
            if len(found) == 1:
                return found[0]
        raise UsageError(f"{p} holds no checkpoint (expected best.safetensors or last.safetensors)")
    return p


def load(path: str | Path, config_file: str | Path | None = None, prefer: str = "best") -> Checkpoint:
    p = resolve(path, prefer)
    if p.suffix in TORCH_SUFFIXES:
        return _load_torch(p, config_file)
    try:
        with safe_open(str(p), framework="pt") as f:
            header = f.metadata() or {}
        state = load_file(str(p))
    except (SafetensorError, OSError, ValueError) as e:
        raise QtkError(f"{p}: not a readable safetensors checkpoint (corrupt, truncated or another "
                       f"file type: {str(e).splitlines()[0][:120]})") from None
    if header.get("format") != FORMAT:
        raise QtkError(f"{p}: safetensors file without qtk metadata (not a qtk checkpoint)")
    try:
        cfg = qconfig.from_dict(json.loads(header["config"]))
        tok = from_json(json.loads(header["tokenizer"]))
        meta = json.loads(header.get("meta", "{}"))
    except (KeyError, ValueError) as e:
        raise QtkError(f"{p}: corrupt checkpoint metadata ({e})") from None
    return Checkpoint(p, cfg, tok, state, meta)


def _load_torch(p: Path, config_file: str | Path | None) -> Checkpoint:
    cfg_path = Path(config_file) if config_file else p.parent / "config.toml"
    if not cfg_path.is_file():
        raise UsageError(f"{p}: a .pt state dict needs its qtk config: put config.toml beside it or pass --config")
    cfg = qconfig.from_dict(qconfig.read_toml(cfg_path))
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # the unpickler raises many types for bad files
        raise QtkError(f"{p}: not a loadable PyTorch state dict ({str(e).splitlines()[0][:120]})") from None
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj = obj["model"]  # nanoGPT-style {"model": state_dict, ...}
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise QtkError(f"{p}: expected a state dict of tensors")
    tok_path = p.parent / "tokenizer.json"
    if tok_path.is_file():
        tok = from_json(json.loads(tok_path.read_text()))
    elif cfg.data.tokenizer == "byte":
        from qtk.data.tokenizer import ByteTokenizer

        tok = ByteTokenizer()
    else:
        raise UsageError(f"{p}: no tokenizer.json beside it (needed for a {cfg.data.tokenizer} model)")
    return Checkpoint(p, cfg, tok, dict(obj), {})


def read_meta(path: Path) -> dict[str, Any]:
    """Only the header metadata of a qtk checkpoint (cheap: no tensors read)."""
    with safe_open(str(path), framework="pt") as f:
        header = f.metadata() or {}
    return json.loads(header.get("meta", "{}"))


# ------------------------------------------------------------------ training-state sidecar

def save_train_state(path: Path, optimizer: torch.optim.Optimizer, extra: dict[str, Any],
                     tensors: dict[str, torch.Tensor]) -> None:
    """Optimizer state + RNG tensors as safetensors; the rest as JSON in its header."""
    sd = optimizer.state_dict()
    flat = {f"rng.{k}": v.contiguous() for k, v in tensors.items()}
    scalars: dict[str, dict[str, Any]] = {}
    for i, st in sd["state"].items():
        for name, value in st.items():
            if isinstance(value, torch.Tensor):
                flat[f"opt.{i}.{name}"] = value.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(i), {})[name] = value
    header = {"param_groups": json.dumps(sd["param_groups"]), "scalars": json.dumps(scalars),
              "extra": json.dumps(extra)}
    atomic_write(Path(path), lambda tmp: save_file(flat, tmp, metadata=header))


def load_train_state(path: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, torch.Tensor]]:
    """(optimizer state_dict, extra, rng tensors)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
        flat = load_file(str(path))
    except (SafetensorError, OSError) as e:
        raise QtkError(f"{path}: unreadable training state ({e})") from None
    state: dict[int, dict[str, Any]] = {}
    rng = {}
    for key, value in flat.items():
        kind, _, rest = key.partition(".")
        if kind == "rng":
            rng[rest] = value
        else:
            i, _, name = rest.partition(".")
            state.setdefault(int(i), {})[name] = value
    for i, st in json.loads(header["scalars"]).items():
        state.setdefault(int(i), {}).update(st)
    opt = {"state": state, "param_groups": json.loads(header["param_groups"])}
    return opt, json.loads(header["extra"]), rng
