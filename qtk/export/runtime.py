"""Running an exported model with ONNX Runtime: sessions (CUDA when it really loads, else CPU),
the Optimum-style inputs, a decode Step for `qtk.generate`, and a model-like adapter for
`qtk.eval.evaluate`. The tokenizer and config are read from beside the .onnx file.
"""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from qtk import config as qconfig
from qtk.data.tokenizer import Tokenizer, from_json
from qtk.errors import QtkError, UsageError

CONFIG_NAME = "config.toml"
TOKENIZER_NAME = "tokenizer.json"


def make_session(path: Path, device: str = "auto", threads: int = 0):
    """An InferenceSession; device auto|cpu|cuda. get_available_providers() lists CUDA even where
    its libraries cannot load, so the providers the session actually got are what counts."""
    import onnxruntime as ort

    kind, _, index = device.partition(":")
    if kind not in ("auto", "cpu", "cuda") or (index and not (kind == "cuda" and index.isdigit())):
        raise UsageError(f"--device for an ONNX model: auto, cpu, cuda or cuda:N (got {device!r})")
    want: list = ["CPUExecutionProvider"]
    if kind != "cpu" and "CUDAExecutionProvider" in ort.get_available_providers():
        want.insert(0, ("CUDAExecutionProvider", {"device_id": int(index or 0)}))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # a CUDA provider that fails to load is reported by us, not as a log spew
    if threads:
        opts.intra_op_num_threads = threads
    try:
        # onnxruntime print()s a provider that fails to load: keep stdout for the generated text
        with contextlib.redirect_stdout(sys.stderr):
            sess = ort.InferenceSession(str(path), sess_options=opts, providers=want)
    except Exception as e:  # onnxruntime raises its own exception types for bad models
        raise QtkError(f"{path}: onnxruntime cannot load it ({str(e).splitlines()[0][:200]})") from None
    if kind == "cuda" and sess.get_providers()[0] != "CUDAExecutionProvider":
        raise UsageError("--device cuda: onnxruntime's CUDA provider is not usable here "
                         "(install onnxruntime-gpu matching the CUDA version, and no plain onnxruntime beside it)")
    return sess


class OnnxLM:
    """An exported qtk decoder (with or without past inputs) behind one `run` call."""

    def __init__(self, path: Path, device: str = "auto", threads: int = 0) -> None:
        self.path = Path(path)
        self.session = make_session(self.path, device, threads)
        self.provider = self.session.get_providers()[0]
        inputs = {i.name: i for i in self.session.get_inputs()}
        self.input_names = set(inputs)
        if "input_ids" not in inputs:
            raise QtkError(f"{path}: not a qtk/Optimum decoder (no input_ids input)")
        past = [n for n in inputs if n.startswith("past_key_values.") and n.endswith(".key")]
        self.with_past = bool(past)
        self.n_layer = len(past)
        if past:
            shape = inputs["past_key_values.0.key"].shape  # (batch, n_kv_head, past, head_dim)
            self.kv_heads, self.head_dim = int(shape[1]), int(shape[3])

    def run(self, ids: np.ndarray, past: list[np.ndarray] | None = None,
            attention_mask: np.ndarray | None = None,
            position_ids: np.ndarray | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """ids (B, T) after P past positions -> logits (B, T, V) and the presents (with past)."""
        B, T = ids.shape
        P = past[0].shape[2] if past else 0
        if attention_mask is None:
            attention_mask = np.ones((B, P + T), dtype=np.int64)
        if position_ids is None:
            position_ids = np.broadcast_to(np.arange(P, P + T, dtype=np.int64), (B, T))
        feed = {"input_ids": ids.astype(np.int64), "attention_mask": attention_mask,
                "position_ids": np.ascontiguousarray(position_ids)}
        if self.with_past:
            if past is None:
                empty = np.zeros((B, self.kv_heads, 0, self.head_dim), dtype=np.float32)
                past = [empty] * (2 * self.n_layer)
            for i in range(self.n_layer):
                feed[f"past_key_values.{i}.key"], feed[f"past_key_values.{i}.value"] = past[2 * i], past[2 * i + 1]
        # the exporter may drop an input the graph does not use
        out = self.session.run(None, {k: v for k, v in feed.items() if k in self.input_names})
        return out[0], out[1:]

    def step(self) -> Callable[[torch.Tensor, bool], torch.Tensor]:
        """A decode step: past keys/values when the model has them, else the whole window again."""
        state: dict[str, list[np.ndarray] | np.ndarray | None] = {"past": None, "window": None}

        def step(ids: torch.Tensor, restart: bool) -> torch.Tensor:
            x = ids.cpu().numpy()
            if self.with_past:
                logits, state["past"] = self.run(x, None if restart else state["past"])
            else:
                window = x if restart else np.concatenate([state["window"], x], axis=1)
                state["window"] = window
                logits, _ = self.run(window)
            return torch.from_numpy(np.array(logits[:, -1]))

        return step

    # the model-like surface that qtk.eval.evaluate uses
    training = False

    def eval(self) -> "OnnxLM":
        return self

    def train(self, mode: bool = True) -> "OnnxLM":
        return self

    def __call__(self, idx: torch.Tensor) -> tuple[torch.Tensor, None]:
        logits, _ = self.run(idx.cpu().numpy())
        return torch.from_numpy(logits), None


@dataclass
class Exported:
    lm: OnnxLM
    tokenizer: Tokenizer
    cfg: qconfig.RunConfig


def load(path: str | Path, device: str = "auto", threads: int = 0) -> Exported:
    """An exported model with the tokenizer.json and config.toml that travel beside it."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise UsageError(f"no such ONNX model: {p}")
    tok_path, cfg_path = p.parent / TOKENIZER_NAME, p.parent / CONFIG_NAME
    for need in (tok_path, cfg_path):
        if not need.is_file():
            raise UsageError(f"{p}: no {need.name} beside it (qtk export-onnx writes it next to the model)")
    try:
        tok = from_json(json.loads(tok_path.read_text(encoding="utf-8")))
    except ValueError as e:
        raise QtkError(f"{tok_path}: not valid JSON ({e})") from None
    cfg = qconfig.from_dict(qconfig.read_toml(cfg_path))
    return Exported(OnnxLM(p, device, threads), tok, cfg)
