"""`passkey`: the passkey retrieval test of Landmark Attention (Mohtashami & Jaggi, arXiv
2305.16300, its llama/run_test.py), seeded, in byte-tokenizer ids.

A sample is five lines joined by newlines: the instruction, filler, the key line ("The pass key is
K. Remember it. K is the pass key.", K uniform in 1..50000), more filler, and the question ("What
is the pass key? The pass key is"); the answer " K." follows. The key line sits at a uniformly
drawn depth of the filler, and the prompt is exactly `distance` tokens long (the filler is cut to
fit). Filler is either the standard repeated sentences or seeded random words (`words`: drawn from
a fixed list of pseudo-words; periodic filler makes many bitwise-identical memory keys).

Scored targets are the answer's tokens (the digits and the closing "."): a sample is an exact
match when all of them are the model's top-1 prediction, which is what greedy decoding of the
first integer would return. Each sample starts with <|endoftext|> (a document start, where a kNN
memory resets) and ends with newline padding, so samples of one distance have one length.
No torch here (numpy).
"""

from __future__ import annotations

import numpy as np

from qtk.data.tasks import TaskStream
from qtk.data.tokenizer import ByteTokenizer
from qtk.errors import UsageError

NAME = "passkey"
FILLERS = ("sentences", "words")
INSTRUCTION = ("There is an important info hidden inside a lot of irrelevant text. Find it and memorize "
               "them. I will quiz you about the important information there.")
SENTENCES = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
QUESTION = "What is the pass key? The pass key is"
MAX_KEY = 50000
ANSWER_LEN = len(f" {MAX_KEY}.")  # the longest answer; shorter ones are padded with newlines
WORD_SEED, N_WORDS = 1234, 2000   # the fixed pseudo-word list of the `words` filler


def key_line(key: int) -> str:
    return f"The pass key is {key}. Remember it. {key} is the pass key."


def min_distance() -> int:
    """The shortest prompt: the fixed lines with no filler."""
    return len(INSTRUCTION) + len(key_line(MAX_KEY)) + len(QUESTION) + 4


def _words() -> list[str]:
    rng = np.random.default_rng(WORD_SEED)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    return ["".join(rng.choice(letters, size=int(n))) for n in rng.integers(2, 9, size=N_WORDS)]


class Filler:
    def __init__(self, kind: str) -> None:
        if kind not in FILLERS:
            raise UsageError(f"data.passkey.filler: unknown filler {kind!r} (known: {', '.join(FILLERS)})")
        self.kind = kind
        self.words = np.array(_words()) if kind == "words" else None

    def text(self, n: int, rng: np.random.Generator) -> str:
        """n characters of filler."""
        if self.kind == "sentences":
            return (SENTENCES * (n // len(SENTENCES) + 1))[:n]
        out = " ".join(self.words[rng.integers(0, N_WORDS, size=n // 3 + 2)].tolist())  # words average 5.5 + 1
        while len(out) < n:
            out += " " + " ".join(self.words[rng.integers(0, N_WORDS, size=n // 3 + 2)].tolist())
        return out[:n]


def sample(distance: int, filler: Filler, rng: np.random.Generator) -> tuple[str, str, int, int]:
    """(prompt, answer, key, offset of the key line in the prompt): the prompt is `distance` characters."""
    key = int(rng.integers(1, MAX_KEY + 1))
    line = key_line(key)
    room = distance - len(INSTRUCTION) - len(line) - len(QUESTION) - 4
    if room < 0:
        raise UsageError(f"data.passkey: distance {distance} is shorter than the fixed lines ({min_distance()})")
    text = filler.text(room, rng)
    cut = int(rng.integers(0, room + 1))  # the key line's depth in the filler
    prompt = "\n".join([INSTRUCTION, text[:cut], line, text[cut:], QUESTION])
    return prompt, f" {key}.", key, len(INSTRUCTION) + 2 + cut


class PasskeyStream(TaskStream):
    """Passkey samples back to back, with their layout: `samples` rows of (start, distance, key,
    key-line start, answer start) in tokens from the stream's start."""

    def __init__(self, tokens: np.ndarray, scored: np.ndarray, samples: np.ndarray) -> None:
        super().__init__(tokens, scored, 0)
        self.samples = samples

    def sample_tokens(self, i: int) -> int:
        """Tokens of sample i: <|endoftext|>, the prompt, the answer and its padding."""
        return int(self.samples[i, 1]) + 1 + ANSWER_LEN

    def key_positions(self, i: int) -> np.ndarray:
        """Positions (in the sample) of the key's digits in the key line, both occurrences."""
        start, _, key, line, _ = (int(v) for v in self.samples[i])
        digits = len(str(key))
        first = 1 + line + len("The pass key is ")
        second = first + digits + len(". Remember it. ")
        return np.concatenate([np.arange(first, first + digits), np.arange(second, second + digits)])


def stream(distances: list[int], filler: str, seed: int, score_all: bool = False) -> PasskeyStream:
    """One sample per entry of `distances`; `score_all`: every token is a target (language-model
    training on the whole text), else only the answers."""
    rng = np.random.default_rng(seed)
    f = Filler(filler)
    parts, masks, rows, at = [], [], [], 0
    for d in distances:
        prompt, answer, key, line = sample(d, f, rng)
        body = (prompt + answer).encode() + b"\n" * (ANSWER_LEN - len(answer))
        toks = np.empty(len(body) + 1, np.uint16)
        toks[0] = ByteTokenizer.eot_id
        toks[1:] = np.frombuffer(body, np.uint8)
        mask = np.full(len(toks), score_all)
        mask[1 + len(prompt):1 + len(prompt) + len(answer)] = True
        parts.append(toks)
        masks.append(mask)
        rows.append((at, d, key, line, 1 + len(prompt)))
        at += len(toks)
    return PasskeyStream(np.concatenate(parts), np.concatenate(masks), np.array(rows, np.int64).reshape(-1, 5))


def distances_for(distances: list[int], n: int, rng: np.random.Generator | None) -> list[int]:
    """Training (rng given): n distances drawn uniformly from the list; evaluation (rng None): each
    distance n times, in the list's order."""
    if rng is None:
        return [d for d in distances for _ in range(n)]
    return [int(d) for d in rng.choice(np.asarray(distances), size=n)]


def parse_distances(text: str, key: str = "data.passkey.distances") -> list[int]:
    """"1k,4k,1M" -> [1024, 4096, 1048576] (k = 1024, M = 1024 * 1024)."""
    out = []
    for part in (p.strip() for p in str(text).split(",")):
        scale = {"k": 1 << 10, "m": 1 << 20}.get(part[-1:].lower(), 1)
        digits = part[:-1] if scale > 1 else part
        if not digits.isdigit():
            raise UsageError(f"{key}: {part!r} is not a length (e.g. 4096, 4k, 1M)")
        d = int(digits) * scale
        if d < min_distance():
            raise UsageError(f"{key}: {part} is below the shortest prompt ({min_distance()} tokens)")
        out.append(d)
    if not out:
        raise UsageError(f"{key} is empty")
    return out


def check(cfg) -> None:
    Filler(cfg.passkey.filler)
    parse_distances(cfg.passkey.train_distances, "data.passkey.train_distances")
    parse_distances(cfg.passkey.distances)


def splits(cfg) -> tuple[PasskeyStream, PasskeyStream]:
    """(train, val) for a DataConfig's `passkey` settings: train draws each sample's distance from
    train_distances (and scores every token, or only the answers: train_on); val, the held-out
    split training reports on, holds val_samples at each training distance, answers scored, from
    another seed."""
    p = cfg.passkey
    check(cfg)
    train_d = parse_distances(p.train_distances, "data.passkey.train_distances")
    picks = distances_for(train_d, p.train_samples, np.random.default_rng([p.seed, 0]))
    train = stream(picks, p.filler, 2 * p.seed, score_all=p.train_on == "all")
    val = stream(distances_for(train_d, p.val_samples, None), p.filler, 2 * p.seed + 1)
    return train, val


def test_split(cfg) -> PasskeyStream:
    """What `qtk eval --data passkey` scores: val_samples at each of `distances` (seed as val's)."""
    p = cfg.passkey
    check(cfg)
    return stream(distances_for(parse_distances(p.distances), p.val_samples, None), p.filler, 2 * p.seed + 1)
