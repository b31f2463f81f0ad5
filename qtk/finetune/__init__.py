"""Fine-tuning: starting a run from trained weights (start.py, `--init-from`), LoRA / QLoRA
adapters (lora.py, arXiv 2106.09685 and 2305.14314), adapter-only checkpoints (adapter.py) and
folding them into their base (merge.py, `qtk merge`).
This module imports no torch: commands that refuse adapter checkpoints use it cheaply."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtk.errors import UsageError

ADAPTER_KEY = "adapter"  # checkpoint metadata key of an adapter-only checkpoint


def refuse_adapter(meta: dict[str, Any], path: str | Path, command: str) -> None:
    """One line for commands that need whole weights (compress, quantize, export-onnx)."""
    if meta.get(ADAPTER_KEY):
        raise UsageError(f"{path} holds LoRA adapters only; {command} needs a whole model: merge it first with "
                         f"`qtk merge {path} -o merged.safetensors` (or train with --merge)")
