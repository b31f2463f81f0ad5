"""Text generation with the model's decode state (KV caches, bounded windows, recurrent states): greedy, temperature, top-k, top-p, repetition penalty, stop
strings, several samples at once, streaming through a callback. Documents start with the
tokenizer's <|endoftext|>, so the prompt is prefixed with it and generating it ends a sample.

The decode loop takes a "step" function (next-token logits from new ids), so the same sampling and
streaming serve the torch model and an exported ONNX Runtime session (`qtk.export.runtime`);
`run` is `qtk generate`'s core (a checkpoint or an exported model in, the texts out). With `chat`,
the prompt becomes a user turn of the chat template (qtk.data.chat) and a sample ends with the
assistant's <|im_end|>."""

from __future__ import annotations

import codecs
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import torch

from qtk.data.tokenizer import Tokenizer
from qtk.errors import QtkError, UsageError
from qtk.model.state import DecodeState


@dataclass
class Sampling:
    max_new_tokens: int = 200
    temperature: float = 0.8  # 0 = greedy
    top_k: int = 0            # 0 = off
    top_p: float = 1.0        # 1 = off
    repetition_penalty: float = 1.0
    stop: list[str] = field(default_factory=list)
    seed: int | None = None


def next_token(logits: torch.Tensor, history: torch.Tensor, s: Sampling, gen: torch.Generator | None) -> torch.Tensor:
    """logits (B, V), history (B, L) ids seen so far -> (B,) next ids."""
    logits = logits.float()
    if s.repetition_penalty != 1.0:
        seen = logits.gather(1, history)
        seen = torch.where(seen > 0, seen / s.repetition_penalty, seen * s.repetition_penalty)
        logits = logits.scatter(1, history, seen)
    if s.temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits / s.temperature
    if s.top_k:
        kth = logits.topk(min(s.top_k, logits.size(-1)), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if s.top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        # drop a token when the mass before it already reaches top_p (the top token always stays)
        drop = probs.cumsum(dim=-1) - probs >= s.top_p
        logits = logits.scatter(1, order, sorted_logits.masked_fill(drop, float("-inf")))
    return torch.multinomial(logits.softmax(dim=-1), 1, generator=gen).squeeze(1)


class _Stream:
    """Per-sample text assembly: incremental UTF-8, stop strings, held-back output."""

    def __init__(self, stops: list[str]) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.text, self.emitted, self.stops, self.done = "", 0, stops, False
        self.hold = max((len(x) for x in stops), default=1) - 1

    def add(self, data: bytes, final: bool = False) -> str:
        """Append bytes; return newly safe text (none that could start a stop string)."""
        self.text += self.decoder.decode(data, final=final)
        for stop in self.stops:
            at = self.text.find(stop)
            if at >= 0:
                self.text, self.done = self.text[:at], True
        safe = len(self.text) if (self.done or final) else max(self.emitted, len(self.text) - self.hold)
        piece = self.text[self.emitted:safe]
        self.emitted = safe
        return piece


Step = Callable[[torch.Tensor, bool], torch.Tensor]
"""step(ids, restart) -> logits (B, V) of the next token. With restart, ids (B, L) is a whole
window that starts a fresh context; otherwise ids (B, 1) follows what was fed before. The torch
model (KV cache) and the ONNX Runtime session each provide one."""


def torch_step(model: torch.nn.Module, compile: bool = False) -> Step:
    """The model's incremental decoding (model.new_state) as a Step. With `compile`, the one-token
    decode step runs through torch.compile (inductor, weights frozen as constants): prompts run
    eagerly, and the first decoded tokens wait for the compile (seconds on CPU; once more when the
    state's length turns dynamic)."""
    state: DecodeState | None = None
    decoder = model
    if getattr(model, "uses_stream", False):
        if compile:
            raise UsageError("--compile: a model with a kNN memory decodes eagerly, segment by segment; "
                             "run without --compile")
        return _segment_step(model)
    if compile:
        import torch._dynamo

        # A component that breaks the graph (MoE's per-expert split, NSA's selection) gets one
        # compiled frame per layer, each specialised on its layer index: allow that many.
        limit = 8 + 4 * model.cfg.n_layer
        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, limit)
        from torch._dynamo.exc import TorchDynamoException
        from torch._inductor.exc import CppCompileError

        compiled = torch.compile(model, options={"freezing": True})

        def decoder(ids: torch.Tensor, state: DecodeState):
            try:
                return compiled(ids, state=state)
            except (TorchDynamoException, CppCompileError) as e:  # needs a C++ (CPU) or Triton (GPU) toolchain
                first = (str(e).strip().splitlines() or [""])[0][:200]
                raise QtkError(f"--compile: torch.compile failed ({type(e).__name__}: {first}); "
                               "run without --compile") from None

    def step(ids: torch.Tensor, restart: bool) -> torch.Tensor:
        nonlocal state
        if restart:
            state = model.new_state(ids.shape[0], ids.device, model.wte.weight.dtype)
            logits, _ = model(ids, state=state)
        else:
            logits, _ = decoder(ids, state=state)
        return logits[:, -1]

    return step


def _segment_step(model: torch.nn.Module) -> Step:
    """Decoding for a model with a stream state (a kNN memory): the text is read in segments of
    the model's context, as streamed evaluation reads it. The prompt's full segments go through
    plain forwards (each adds its items to the memory); the rest decodes with a KV cache; when a
    segment is full, a restart flushes its items into the memory and begins the next segment."""
    state: DecodeState | None = None
    stream = None
    T = model.max_context

    def step(ids: torch.Tensor, restart: bool) -> torch.Tensor:
        nonlocal state, stream
        if restart:
            if stream is None:  # the prompt
                stream = model.new_stream(ids.shape[0], ids.device)
                while ids.shape[1] > T:
                    model(ids[:, :T], stream=stream)
                    ids = ids[:, T:]
            else:
                stream.flush()
            state = model.new_state(ids.shape[0], ids.device, model.wte.weight.dtype)
        logits, _ = model(ids, state=state, stream=stream)
        return logits[:, -1]

    step.segments = True
    return step


def sample_tokens(step: Step, history: torch.Tensor, s: Sampling, vocab_size: int, block: int | None,
                  gen: torch.Generator | None = None) -> Iterator[torch.Tensor]:
    """Yield the next ids (B,) one position at a time, for as long as the caller iterates.
    history (B, L) holds the prompt; when a context of `block` positions fills up, decoding
    restarts from the most recent half of it (block None: the model has no limit, never restart),
    or, for a step that reads segments (`step.segments`: a model with a memory), from the next
    token alone: the memory holds what came before."""
    segments = getattr(step, "segments", False)
    logits = step(history, True)
    fed = (history.size(1) - 1) % block + 1 if segments else history.size(1)
    while True:
        logits[:, vocab_size:] = float("-inf")  # padding rows of the embedding
        nxt = next_token(logits, history, s, gen)
        history = torch.cat([history, nxt[:, None]], dim=1)
        yield nxt
        if block is not None and fed >= block:
            window = history[:, -1:] if segments else history[:, -(block // 2):]
            logits, fed = step(window, True), window.size(1)
        else:
            logits, fed = step(nxt[:, None], False), fed + 1


@torch.no_grad()
def decode(step: Step, tok: Tokenizer, prompt: bytes, s: Sampling, block: int | None, n: int = 1,
           device: torch.device | str = "cpu", on_text: Callable[[int, str], None] | None = None,
           chat: bool = False) -> dict:
    """Generate `n` continuations of `prompt` with any Step; on_text(sample, piece) streams them.
    chat: `prompt` is the user's turn; the assistant's reply is generated."""
    device = torch.device(device)
    ids, ends = [tok.eot_id] + tok.encode(prompt), {tok.eot_id}
    if chat:
        from qtk.data.chat import prompt_ids
        from qtk.data.tokenizer import IM_END, special_id

        if special_id(tok, IM_END) is None:
            raise UsageError("--chat: this model's tokenizer has no chat tokens (fine-tune it on chat data first)")
        ids, ends = prompt_ids(tok, prompt.decode("utf-8", errors="replace")), ends | {special_id(tok, IM_END)}
    if block is not None and len(ids) > block and not getattr(step, "segments", False):
        raise UsageError(f"prompt is {len(ids) - 1} tokens, longer than the model's context of {block - 1}")
    gen = torch.Generator(device=device).manual_seed(s.seed) if s.seed is not None else None
    streams = [_Stream(s.stop) for _ in range(n)]
    t0 = time.perf_counter()
    generated = 0
    tokens = sample_tokens(step, torch.tensor([ids] * n, device=device), s, tok.vocab_size, block, gen)
    for nxt in itertools.islice(tokens, s.max_new_tokens):
        generated += 1
        for i, st in enumerate(streams):
            if st.done:
                continue
            if nxt[i].item() in ends:
                piece, st.done = st.add(b"", final=True), True
            else:
                piece = st.add(tok.decode_bytes([nxt[i].item()]))
            if piece and on_text:
                on_text(i, piece)
        if all(st.done for st in streams):
            break
    elapsed = time.perf_counter() - t0
    for i, st in enumerate(streams):
        piece = st.add(b"", final=True) if not st.done else ""
        if piece and on_text:
            on_text(i, piece)
    return {"texts": [st.text for st in streams], "new_tokens": generated,
            "tokens_per_s": generated * n / max(elapsed, 1e-9)}


@torch.no_grad()
def generate(model: torch.nn.Module, tok: Tokenizer, prompt: bytes, s: Sampling, n: int = 1,
             device: torch.device | str = "cpu", on_text: Callable[[int, str], None] | None = None,
             compile: bool = False, chat: bool = False) -> dict:
    """Generate `n` continuations of `prompt` with the model's decode state; on_text streams them.
    A model whose layers all lack a context limit (model.max_context None) is never restarted."""
    return decode(torch_step(model, compile), tok, prompt, s, model.max_context, n, device, on_text, chat)


def run(path: str | Path | None, prompt: str, s: Sampling, *, n: int = 1, onnx: str | Path | None = None,
        device: str = "auto", config_file: str | Path | None = None, compile: bool = False,
        on_text: Callable[[int, str], None] | None = None, notice: Callable[[str], None] | None = None,
        chat: bool = False, memory: str | Path | None = None) -> dict:
    """`qtk generate`: `n` continuations of `prompt` from a checkpoint (file or run directory; the
    decode weight layout) or from an exported model (`onnx`, run by ONNX Runtime with the
    tokenizer and config beside it). notice(line) says which ONNX Runtime provider runs it.
    `memory`: a corpus memory built by this checkpoint (qtk.memory.corpus) for its kNN layer."""
    if s.temperature == 0 and n > 1:
        raise UsageError("-n > 1 with --temperature 0 would print the same greedy text several times")
    if (path is None) == (onnx is None):
        raise UsageError("give a checkpoint PATH or --onnx FILE (one of them)")
    if (compile or memory) and onnx is not None:
        raise UsageError("--compile and --memory apply to torch checkpoints, not --onnx")
    if onnx is not None:
        from qtk.export import runtime

        exported = runtime.load(onnx, device)
        lm = exported.lm
        if notice:
            notice(f"onnxruntime {lm.provider}, {'past inputs' if lm.with_past else 'full re-run per token'}")
        return decode(lm.step(), exported.tokenizer, prompt.encode("utf-8"), s, exported.cfg.model.block_size, n,
                      "cpu", on_text, chat)
    from qtk.load import load_model

    # the (in, out) weight layout is the faster one for one-token steps; generation only
    ck, model, dev = load_model(path, config_file=config_file, device=device, layout="decode")
    if memory is not None:
        from qtk.memory.corpus import attach

        attach(model, memory, ck.path)
    return generate(model, ck.tokenizer, prompt.encode("utf-8"), s, n, dev, on_text, compile, chat)
