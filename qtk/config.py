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

from qtk import plan, plugins, registry
from qtk.errors import UsageError
from qtk.fields import setting

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


_f = setting


@dataclass
class ModelConfig:
    vocab_size: int = _f(0, "Vocabulary size; 0 = taken from the tokenizer (padded to a multiple of 64).", min=0)
    block_size: int = _f(256, "Context length in tokens (training windows; the limit of attention layers).", min=1)
    n_layer: int = _f(6, "Number of blocks.", min=1)
    n_head: int = _f(6, "Attention (query) heads.", min=1)
    n_kv_head: int = _f(0, "Key/value heads for GQA/MQA; 0 = n_head (plain multi-head).", min=0)
    n_embd: int = _f(384, "Model width.", min=1)
    ffn_hidden: int = _f(0, "Feed-forward hidden width; 0 = 8/3 * n_embd rounded up to 32.", min=0)
    dropout: float = _f(0.0, "Dropout on attention and residual outputs.", min=0.0, max=1.0)
    tie_embeddings: bool = _f(True, "Share the token embedding with the output head.")
    rope_theta: float = _f(10000.0, "RoPE base frequency.", min=1.0)
    norm_eps: float = _f(1e-5, "RMSNorm epsilon.", min=0.0)
    init_std: float = _f(0.02, "Std of the normal init; residual projections are scaled by 1/sqrt(2*n_layer).",
                         min=0.0)
    mixer: str = _f("dense", "Sequence mixer of every block (model.layers can set one per block); "
                             "`model.attention` is its old name.", registry="mixer")
    ffn: str = _f("mlp", "Feed-forward kind (none = no feed-forward sublayer).", registry="ffn")
    memory: str = _f("none", "Memory module added to the residual stream (placed by its own `layers` "
                             "setting or by model.layers).", registry="memory")
    residual: str = _f("standard", "Residual connection scheme.", registry="residual")
    router: str = _f("switch", "MoE router (when ffn = moe).", registry="router")
    layers: str = _f("", "Per-block plan, repeated to n_layer: comma-separated MIXER[/FFN][+MEMORY][*N] items, "
                         "e.g. \"sliding*3,dense\" or \"sliding/moe,dense+engram\"; empty = model.mixer everywhere.")
    plugins: list = _f([], "Plugin modules that register components: dotted module names or .py file paths "
                           "(stored absolute), imported before the model is built.")
    # component name -> its settings dataclass (TOML [model.<name>]), for every registered component
    settings: dict = field(default_factory=dict, repr=False, metadata={"components": True})

    def __post_init__(self) -> None:
        add_component_settings(self)

    def __getattr__(self, name: str) -> Any:
        """`cfg.model.nsa` -> the nsa component's settings."""
        settings = self.__dict__.get("settings")
        if settings is not None and name in settings:
            return settings[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")


def add_component_settings(m: ModelConfig) -> None:
    """Default settings for every registered component that has none yet (plugins add some)."""
    for name, cls in registry.settings_classes().items():
        if name not in m.settings:
            m.settings[name] = cls()


@dataclass
class TrainConfig:
    batch_size: int = _f(32, "Sequences per optimizer step, summed over processes and accumulation.", min=1)
    micro_batch_size: int = _f(0, "Sequences per forward pass per process; 0 = the largest divisor of the "
                                  "per-process batch whose step fits in memory (measured by a probe).", min=0)
    memory_limit: str = _f("auto", "Memory a run may use, e.g. 8GiB; auto = the machine's available RAM (or the "
                                   "container's limit) or the GPU's free memory ($QTK_MEMORY_LIMIT sets the default).")
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
    parallel: str = _f("ddp", "Under torchrun: ddp (replicated model) | fsdp (FSDP2: parameters, gradients and "
                              "optimizer state sharded per block; sharded checkpoints).", choices=["ddp", "fsdp"])
    on_preempt: str = _f("exit", "On SIGTERM/SIGUSR1: save at the next step, then exit 143 (exit) or also "
                                 "`scontrol requeue` the SLURM job (requeue).", choices=["exit", "requeue"])


@dataclass
class MQARConfig:
    seq_len: int = _f(64, "MQAR: tokens per sample after its <|endoftext|> (pairs, then queries and noise).", min=4)
    pairs: int = _f(8, "MQAR: key-value pairs per sample, each queried once (seq_len >= 4 * pairs).", min=1,
                    max=128)
    train_samples: int = _f(20000, "MQAR: training samples.", min=1)
    val_samples: int = _f(1000, "MQAR: held-out samples (drawn from another seed).", min=1)
    seed: int = _f(0, "MQAR: seed of the generated samples.", min=0)


@dataclass
class PasskeyConfig:
    distances: str = _f("1k,4k,16k,64k,256k,1M", "Passkey: comma-separated prompt lengths in tokens (k = 1024, "
                                                 "M = 1024k) scored by `qtk eval --data passkey`, val_samples each.")
    train_distances: str = _f("512,1k,2k", "Passkey: prompt lengths of the training samples, each drawn uniformly "
                                          "from this list (repeat a length to weight it, e.g. 300,300,1k; lengths "
                                          "below model.block_size put the key and its question in one segment "
                                          "more often) and of the val split training reports on.")
    filler: str = _f("words", "Passkey: filler text: sentences (the standard repeated ones) or words (seeded "
                              "random pseudo-words).", choices=["sentences", "words"])
    train_on: str = _f("all", "Passkey: training targets: all tokens (the filler and key line too) or only "
                              "the answers.", choices=["all", "answer"])
    train_samples: int = _f(4000, "Passkey: training samples.", min=1)
    val_samples: int = _f(10, "Passkey: held-out samples per distance (drawn from another seed).", min=1)
    seed: int = _f(0, "Passkey: seed of the generated samples.", min=0)


@dataclass
class DataConfig:
    corpus: str = _f("auto", "Built-in corpus when no path is given: auto | shakespeare | pydoc | mqar "
                             "(the synthetic associative-recall task, data.mqar.*) | passkey (the passkey "
                             "retrieval test, data.passkey.*).",
                     choices=["auto", "shakespeare", "pydoc", "mqar", "passkey"])
    path: str = _f("", "Text file, directory of .txt/.md files, .jsonl/.parquet/.arrow file or directory, "
                       "hf:NAME, hf:NAME/CONFIG or hf:NAME/CONFIG:SPLIT (Hugging Face datasets), token-shard directory, mqar "
                       "(the associative-recall task) or passkey (the passkey retrieval test).")
    text_field: str = _f("text", "Column holding the text in .jsonl/.parquet/.arrow and hf: data sets.")
    streaming: bool = _f(False, "hf: data sets: stream the records instead of downloading the whole set first.")
    workers: int = _f(0, "Tokenizer processes; 0 = one per core (at most 8).", min=0)
    tokenizer: str = _f("byte", "byte | bpe.", choices=["byte", "bpe"])
    bpe_vocab_size: int = _f(4096, "Vocabulary size of a BPE tokenizer trained on the training text.", min=260)
    val_fraction: float = _f(0.1, "Share of a user corpus held out for validation (from its end).", min=0.0, max=0.5)
    mqar: MQARConfig = field(default_factory=MQARConfig)
    passkey: PasskeyConfig = field(default_factory=PasskeyConfig)
    format: str = _f("auto", "auto | text | chat. chat: JSONL lines of {\"messages\": [{\"role\", \"content\"}]} "
                             "(auto: a .jsonl file whose first line has `messages`), trained on the assistant's "
                             "tokens only; with no path, the built-in dialogue set made from the plays.",
                     choices=["auto", "text", "chat"])
    skip_bad_lines: bool = _f(False, "Chat JSONL: skip malformed lines (and count them) instead of stopping.")


@dataclass
class LoRAConfig:
    r: int = _f(8, "Rank of the adapters (A is r x in, B is out x r).", min=1)
    alpha: float = _f(16.0, "Scale numerator: the update is (alpha / r) B A.", min=0.0)
    dropout: float = _f(0.0, "Dropout on the adapters' input.", min=0.0, max=1.0)
    targets: list = _f([], "Layers to adapt, as fnmatch patterns over module names (\"blocks.*.attn.*\"); "
                           "empty = every linear layer of the blocks (never the LM head).")


@dataclass
class FinetuneConfig:
    init_from: str = _f("", "Start from this checkpoint or run directory (its model settings and tokenizer); "
                            "stored absolute.")
    method: str = _f("full", "full (every weight trains) | lora (frozen base, trained adapters; a quantized "
                             "base gives QLoRA).", choices=["full", "lora"])
    merge: bool = _f(False, "LoRA: also write merged.safetensors (base + adapters, a plain checkpoint) at the end.")
    lora: LoRAConfig = field(default_factory=LoRAConfig)


@dataclass
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)


SIZES = ("tiny", "small", "medium", "large")


# ---------------------------------------------------------------- dict <-> dataclass

def to_dict(cfg: Any) -> dict[str, Any]:
    """Nested plain dict; a ModelConfig's component settings become `model.<name>` tables."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.metadata.get("components"):
            out.update({name: dataclasses.asdict(s) for name, s in sorted(value.items())})
        elif dataclasses.is_dataclass(value):
            out[f.name] = to_dict(value)
        else:
            out[f.name] = list(value) if isinstance(value, list) else value
    return out


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
        if typ is list:
            if from_text and isinstance(value, str):
                return [part.strip() for part in value.split(",") if part.strip()]
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return list(value)
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


def apply(cfg: Any, data: dict[str, Any], prefix: str = "", from_text: bool = False,
          base: Path | None = None) -> None:
    """Merge a nested dict into dataclass `cfg` in place, checking every key and value. `base` is
    the directory relative plugin paths are read from (the config file's)."""
    if isinstance(cfg, ModelConfig):
        data = _model_keys(cfg, data, prefix, from_text, base)
    fields = {f.name: f for f in dataclasses.fields(cfg)}
    hints = _hints(type(cfg))
    for name, value in data.items():
        key = f"{prefix}{name}"
        if isinstance(cfg, ModelConfig) and name not in fields and name not in cfg.settings:
            registry.load_entry_points()  # an installed package's component may own this table
            add_component_settings(cfg)
        if isinstance(cfg, ModelConfig) and name in cfg.settings:
            if not isinstance(value, dict):
                raise UsageError(f"{key}: expected a table of settings, got {value!r}")
            apply(cfg.settings[name], value, key + ".", from_text)
            continue
        if name not in fields or fields[name].metadata.get("components"):
            known = [n for n, f in fields.items() if not f.metadata.get("components")]
            if isinstance(cfg, ModelConfig):
                known += sorted(cfg.settings)
            raise UsageError(f"unknown config key {key!r} (known in {prefix.rstrip('.') or 'top level'}: "
                             f"{', '.join(known)})")
        current = getattr(cfg, name)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise UsageError(f"{key}: expected a table of settings, got {value!r}")
            apply(current, value, key + ".", from_text, base)
            continue
        coerced = _coerce(key, value, hints[name], from_text)
        _check_value(key, fields[name], coerced)
        setattr(cfg, name, coerced)


def _model_keys(m: ModelConfig, data: dict[str, Any], prefix: str, from_text: bool,
                base: Path | None) -> dict[str, Any]:
    """Plugins first (they register components, hence settings tables), and `attention` as the
    old name of `mixer`."""
    data = dict(data)
    if "attention" in data:
        if "mixer" in data:
            raise UsageError(f"{prefix}attention is the old name of {prefix}mixer: give only one")
        data["mixer"] = data.pop("attention")
    if "plugins" in data:
        specs = _coerce(f"{prefix}plugins", data.pop("plugins"), list, from_text)
        m.plugins = [plugins.normalise(s, base) for s in specs]
        plugins.load(m.plugins)
        add_component_settings(m)
    return data


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
    if cfg.finetune.method == "lora" and not cfg.finetune.init_from:
        raise UsageError("finetune.method = lora adapts a trained model: give finetune.init_from (--init-from)")
    if cfg.finetune.merge and cfg.finetune.method != "lora":
        raise UsageError("finetune.merge (--merge) folds LoRA adapters into the base: set finetune.method = lora")


def _validate_components(m: ModelConfig) -> None:
    """The per-layer plan resolves, and each component in use accepts its settings."""
    for kind, name in plan.used(m):
        check = registry.validator(kind, name)
        if check is not None:
            check(m.settings.get(name), m, f"model.{name}")


def load(
    size: str | None = None,
    config_file: str | Path | None = None,
    flags: dict[str, Any] | None = None,
    sets: list[tuple[str, str]] | None = None,
    base: dict[str, Any] | None = None,
) -> RunConfig:
    """Compose a RunConfig: defaults (or `base`, a saved config dict) -> size preset -> config
    file -> flags -> --set."""
    cfg = RunConfig()
    if base:
        apply(cfg, base)
    if size:
        apply(cfg, read_toml(preset_path(size)))
    if config_file:
        apply(cfg, read_toml(config_file), base=Path(config_file).resolve().parent)
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
    """(key, type, default, help) for every setting, component settings included (those of
    loaded plugins too): the source for docs and `--help` text."""
    rows = []
    obj = cls()
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        value = getattr(obj, f.name)
        if f.metadata.get("components"):
            for name, s in sorted(value.items()):
                rows += describe(type(s), f"{prefix}{name}.")
            continue
        if dataclasses.is_dataclass(value):
            rows += describe(type(value), f"{prefix}{f.name}.")
            continue
        help_text = f.metadata.get("help", "")
        if "registry" in f.metadata:
            help_text += f" One of: {', '.join(registry.names(f.metadata['registry']))}."
        typ = hints[f.name]
        rows.append((prefix + f.name, getattr(typ, "__name__", str(typ)), value, help_text))
    return rows
