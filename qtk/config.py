"""Run configuration: dataclasses with help text, TOML presets, file merge and `--set` overrides.

Order of composition: defaults -> preset (`--size`) -> `--config FILE.toml` -> CLI flags ->
`--set section.key=value`. Every key is checked: unknown keys and bad values raise a UsageError
naming the key. No torch here.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from qtk import registry
from qtk.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _f(default: Any, help: str, **meta: Any) -> Any:
    return field(default=default, metadata={"help": help, **meta})


@dataclass
class SlidingConfig:
    window: int = _f(64, "Sliding-window attention: each query sees the last `window` positions (itself "
                         "included).", min=1)


@dataclass
class TopKConfig:
    k: int = _f(32, "Top-k attention: each query attends to its k highest-scoring causal keys (k <= block_size).",
                min=1)


@dataclass
class NSAConfig:
    compress_block: int = _f(16, "NSA compressed branch: block length l (paper 32).", min=1)
    compress_stride: int = _f(8, "NSA compressed branch: stride s between blocks (paper 16; s <= l).", min=1)
    select_block: int = _f(16, "NSA selected branch: block length l' (paper 64).", min=1)
    select_count: int = _f(4, "NSA selected branch: blocks n per query, incl. the first and 2 local (paper 16).",
                           min=1)
    window: int = _f(32, "NSA sliding-window branch: window w (paper 512).", min=1)


@dataclass
class MoEConfig:
    n_experts: int = _f(4, "Routed experts per MoE layer.", min=1)
    top_k: int = _f(1, "Experts per token (the hash router uses 1).", min=1)
    capacity_factor: float = _f(1.25, "Expert capacity = factor * tokens * top_k / n_experts while training; "
                                      "overflow skips the expert through the residual; 0 = no limit.", min=0.0)
    aux_loss_coef: float = _f(0.01, "Switch load-balancing loss weight alpha (alpha * E * sum f_i * P_i).", min=0.0)
    z_loss_coef: float = _f(0.0, "Router z-loss weight (mean squared logsumexp of the router logits).", min=0.0)
    shared_expert: bool = _f(False, "Add one always-active shared expert.")
    expert_hidden: int = _f(0, "Hidden width of each expert; 0 = the dense MLP's (model.ffn_hidden rule).", min=0)


@dataclass
class EngramConfig:
    max_order: int = _f(3, "Hash n-grams of orders 2..max_order ending at each position.", min=2)
    n_heads: int = _f(2, "Independent hash heads (tables) per order.", min=1)
    table_size: int = _f(0, "Rows per hash table, rounded up to a prime; 0 = about 5 x vocab_size.", min=0)
    embd: int = _f(32, "Width of each table's embedding; the lookups are concatenated.", min=1)
    conv_kernel: int = _f(4, "Length of the short causal depthwise convolution.", min=1)
    layers: str = _f("1", "Comma-separated block indices that get an Engram module (e.g. \"1,3\").")
    seed: int = _f(0, "Seed of the hash multipliers.")


@dataclass
class MHCConfig:
    n_streams: int = _f(4, "Residual streams.", min=1)
    sinkhorn_iters: int = _f(20, "Sinkhorn-Knopp iterations projecting H_res onto doubly-stochastic matrices.",
                             min=1)


@dataclass
class ModelConfig:
    vocab_size: int = _f(0, "Vocabulary size; 0 = taken from the tokenizer (padded to a multiple of 64).", min=0)
    block_size: int = _f(256, "Context length in tokens.", min=1)
    n_layer: int = _f(6, "Number of transformer blocks.", min=1)
    n_head: int = _f(6, "Attention (query) heads.", min=1)
    n_kv_head: int = _f(0, "Key/value heads for GQA/MQA; 0 = n_head (plain multi-head).", min=0)
    n_embd: int = _f(384, "Model width.", min=1)
    ffn_hidden: int = _f(0, "Feed-forward hidden width; 0 = 8/3 * n_embd rounded up to 32.", min=0)
    dropout: float = _f(0.0, "Dropout on attention and residual outputs.", min=0.0, max=1.0)
    tie_embeddings: bool = _f(True, "Share the token embedding with the output head.")
    rope_theta: float = _f(10000.0, "RoPE base frequency.", min=1.0)
    norm_eps: float = _f(1e-5, "RMSNorm epsilon.", min=0.0)
    init_std: float = _f(0.02, "Std of the normal init; residual projections are scaled by 1/sqrt(2*n_layer).", min=0.0)
    attention: str = _f("dense", "Attention kind.", registry="attention")
    ffn: str = _f("mlp", "Feed-forward kind.", registry="ffn")
    memory: str = _f("none", "Memory module added to the residual stream.", registry="memory")
    residual: str = _f("standard", "Residual connection scheme.", registry="residual")
    router: str = _f("switch", "MoE router (when ffn = moe).", registry="router")
    sliding: SlidingConfig = field(default_factory=SlidingConfig)
    topk: TopKConfig = field(default_factory=TopKConfig)
    nsa: NSAConfig = field(default_factory=NSAConfig)
    moe: MoEConfig = field(default_factory=MoEConfig)
    engram: EngramConfig = field(default_factory=EngramConfig)
    mhc: MHCConfig = field(default_factory=MHCConfig)


@dataclass
class TrainConfig:
    batch_size: int = _f(32, "Sequences per optimizer step, summed over processes and accumulation.", min=1)
    micro_batch_size: int = _f(0, "Sequences per forward pass per process; 0 = batch_size / world size.", min=0)
    max_steps: int = _f(2000, "Optimizer steps (the schedule's length).", min=0)
    max_time: float = _f(0.0, "Wall-clock budget in seconds (0 = none); the LR schedule then follows time.", min=0.0)
    lr: float = _f(1e-3, "Peak learning rate.", min=0.0)
    min_lr_ratio: float = _f(0.1, "Final learning rate as a fraction of the peak (cosine decay).", min=0.0, max=1.0)
    warmup_steps: int = _f(100, "Linear warm-up steps.", min=0)
    weight_decay: float = _f(0.1, "AdamW weight decay (matrices only; not norms, biases or embeddings).", min=0.0)
    beta1: float = _f(0.9, "AdamW beta1.", min=0.0, max=1.0)
    beta2: float = _f(0.95, "AdamW beta2.", min=0.0, max=1.0)
    grad_clip: float = _f(1.0, "Clip the global gradient norm to this (0 = off).", min=0.0)
    eval_interval: int = _f(250, "Validate (and checkpoint) every N steps; 0 = only at the end.", min=0)
    eval_tokens: int = _f(32768, "Held-out tokens used by each periodic validation.", min=1)
    log_interval: int = _f(10, "Write a metrics line every N steps.", min=1)
    seed: int = _f(1337, "Seed for init, batch sampling and dropout.")
    device: str = _f("auto", "auto | cpu | cuda | cuda:N.")
    dtype: str = _f("auto", "Autocast dtype: auto (bf16 on GPU, fp32 on CPU) | float32 | bfloat16 | float16.",
                    choices=["auto", "float32", "bfloat16", "float16"])
    compile: bool = _f(False, "torch.compile the model.")


@dataclass
class DataConfig:
    corpus: str = _f("auto", "Built-in corpus when no path is given: auto | shakespeare | pydoc.",
                     choices=["auto", "shakespeare", "pydoc"])
    path: str = _f("", "Text file, directory of .txt/.md files, or token-shard directory.")
    tokenizer: str = _f("byte", "byte | bpe.", choices=["byte", "bpe"])
    bpe_vocab_size: int = _f(4096, "Vocabulary size of a BPE tokenizer trained on the training text.", min=260)
    val_fraction: float = _f(0.1, "Share of a user corpus held out for validation (from its end).", min=0.0, max=0.5)


@dataclass
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)


SIZES = ("tiny", "small", "medium", "large")


# ---------------------------------------------------------------- dict <-> dataclass

def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def to_toml(cfg: Any) -> str:
    return tomli_w.dumps(to_dict(cfg))


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(key: str, value: Any, typ: Any, from_text: bool) -> Any:
    """Convert `value` to `typ` (from `--set` text or a TOML value), or raise naming `key`."""
    try:
        if typ is bool:
            if isinstance(value, bool):
                return value
            if from_text and str(value).lower() in ("true", "1", "yes", "on"):
                return True
            if from_text and str(value).lower() in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if typ is int:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, int):
                return value
            if from_text:
                return int(str(value).replace("_", ""))
            raise ValueError
        if typ is float:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, (int, float)):
                return float(value)
            if from_text:
                return float(value)
            raise ValueError
        if typ is str:
            if isinstance(value, str):
                return value
            raise ValueError
    except (ValueError, TypeError):
        pass
    else:
        raise UsageError(f"{key}: unsupported type {typ}")
    name = getattr(typ, "__name__", str(typ))
    raise UsageError(f"{key}: expected {name}, got {value!r}")


def _check_value(key: str, f: dataclasses.Field, value: Any) -> None:
    meta = f.metadata
    if "min" in meta and value < meta["min"]:
        raise UsageError(f"{key}: must be >= {meta['min']}, got {value!r}")
    if "max" in meta and value > meta["max"]:
        raise UsageError(f"{key}: must be <= {meta['max']}, got {value!r}")
    if "choices" in meta and value not in meta["choices"]:
        raise UsageError(f"{key}: must be one of {', '.join(meta['choices'])}, got {value!r}")
    if "registry" in meta:
        registry.check(meta["registry"], value, key)


def apply(cfg: Any, data: dict[str, Any], prefix: str = "", from_text: bool = False) -> None:
    """Merge a nested dict into dataclass `cfg` in place, checking every key and value."""
    fields = {f.name: f for f in dataclasses.fields(cfg)}
    hints = _hints(type(cfg))
    for name, value in data.items():
        key = f"{prefix}{name}"
        if name not in fields:
            known = ", ".join(fields)
            raise UsageError(f"unknown config key {key!r} (known in {prefix.rstrip('.') or 'top level'}: {known})")
        current = getattr(cfg, name)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise UsageError(f"{key}: expected a table of settings, got {value!r}")
            apply(current, value, key + ".", from_text)
            continue
        coerced = _coerce(key, value, hints[name], from_text)
        _check_value(key, fields[name], coerced)
        setattr(cfg, name, coerced)


def set_key(cfg: Any, dotted: str, text: str) -> None:
    """Apply one `--set section.key=value` override."""
    parts = dotted.split(".")
    nested: dict[str, Any] = {parts[-1]: text}
    for part in reversed(parts[:-1]):
        nested = {part: nested}
    apply(cfg, nested, from_text=True)


def read_toml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"config file not found: {p}")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{p}: not valid TOML ({e})") from None


def preset_path(size: str) -> Path:
    from qtk.paths import shipped_dir

    if size not in SIZES:
        raise UsageError(f"--size: unknown size {size!r} (known: {', '.join(SIZES)})")
    return shipped_dir("configs") / f"{size}.toml"


def validate(cfg: RunConfig) -> None:
    """Cross-field checks that no single key can make."""
    m = cfg.model
    if m.n_embd % m.n_head:
        raise UsageError(f"model.n_embd ({m.n_embd}) must be divisible by model.n_head ({m.n_head})")
    if (m.n_embd // m.n_head) % 2:
        raise UsageError("model.n_embd / model.n_head must be even (RoPE rotates pairs)")
    kv = m.n_kv_head or m.n_head
    if m.n_head % kv:
        raise UsageError(f"model.n_head ({m.n_head}) must be divisible by model.n_kv_head ({kv})")
    _validate_components(m)
    t = cfg.train
    if t.micro_batch_size and t.batch_size % t.micro_batch_size:
        raise UsageError(f"train.batch_size ({t.batch_size}) must be a multiple of "
                         f"train.micro_batch_size ({t.micro_batch_size})")
    if t.max_steps == 0 and t.max_time == 0:
        raise UsageError("train.max_steps and train.max_time are both 0: nothing would stop the run")


def engram_layers(m: ModelConfig) -> set[int]:
    """Block indices of `model.engram.layers` ("1,3"), each checked against n_layer."""
    out = set()
    for part in m.engram.layers.replace(" ", "").split(","):
        if not part:
            continue
        try:
            i = int(part)
        except ValueError:
            raise UsageError(f"model.engram.layers: {part!r} is not a block index (expected e.g. \"1,3\")") from None
        if not 0 <= i < m.n_layer:
            raise UsageError(f"model.engram.layers: block {i} does not exist (model.n_layer = {m.n_layer})")
        out.add(i)
    return out


def _validate_components(m: ModelConfig) -> None:
    """Settings of the selectable components that depend on each other or on the model's size."""
    if m.attention == "topk" and m.topk.k > m.block_size:
        raise UsageError(f"model.topk.k ({m.topk.k}) exceeds model.block_size ({m.block_size}): "
                         "a query can never have more than block_size keys")
    nsa = m.nsa
    if m.attention == "nsa":
        if nsa.compress_stride > nsa.compress_block:
            raise UsageError(f"model.nsa.compress_stride ({nsa.compress_stride}) must be <= "
                             f"model.nsa.compress_block ({nsa.compress_block})")
        if nsa.compress_block > m.block_size or nsa.select_block > m.block_size:
            raise UsageError("model.nsa.compress_block and model.nsa.select_block must be <= model.block_size")
    if m.ffn == "moe":
        if m.moe.top_k > m.moe.n_experts:
            raise UsageError(f"model.moe.top_k ({m.moe.top_k}) exceeds model.moe.n_experts ({m.moe.n_experts})")
        if m.router == "hash" and m.moe.top_k != 1:
            raise UsageError("model.router = hash sends each token to one expert: set model.moe.top_k = 1")
    if m.memory == "engram":
        engram_layers(m)


def load(
    size: str | None = None,
    config_file: str | Path | None = None,
    flags: dict[str, Any] | None = None,
    sets: list[tuple[str, str]] | None = None,
) -> RunConfig:
    """Compose a RunConfig: defaults -> size preset -> config file -> flags -> --set."""
    cfg = RunConfig()
    if size:
        apply(cfg, read_toml(preset_path(size)))
    if config_file:
        apply(cfg, read_toml(config_file))
    for dotted, value in (flags or {}).items():
        if value is not None:
            apply(cfg, _nest(dotted, value))
    for dotted, text in sets or []:
        set_key(cfg, dotted, text)
    validate(cfg)
    return cfg


def from_dict(data: dict[str, Any]) -> RunConfig:
    """A RunConfig from a saved (resolved) config dict, checked like any other."""
    cfg = RunConfig()
    apply(cfg, data)
    validate(cfg)
    return cfg


def _nest(dotted: str, value: Any) -> dict[str, Any]:
    out: Any = value
    for part in reversed(dotted.split(".")):
        out = {part: out}
    return out


def describe(cls: type = RunConfig, prefix: str = "") -> list[tuple[str, str, Any, str]]:
    """(key, type, default, help) for every setting: the source for docs and `--help` text."""
    rows = []
    obj = cls()
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            rows += describe(type(value), f"{prefix}{f.name}.")
            continue
        help_text = f.metadata.get("help", "")
        if "registry" in f.metadata:
            help_text += f" One of: {', '.join(registry.names(f.metadata['registry']))}."
        rows.append((prefix + f.name, getattr(hints[f.name], "__name__", str(hints[f.name])), value, help_text))
    return rows
