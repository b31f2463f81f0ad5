"""Generate text from a checkpoint with KV-cache decoding, or from an exported model with
onnxruntime (--onnx FILE, CUDA provider when it loads; the tokenizer and config beside the file);
streams to stdout (the text only; diagnostics go to stderr). --prompt - reads the prompt from
stdin; --temperature 0 is greedy. --chat sends the prompt as a user turn of the chat template
(a model fine-tuned on chat data) and prints the assistant's reply, ending at its end-of-turn."""

import sys
from pathlib import Path
from typing import List, Optional

import typer

from qtk.cli import common


def command(
    path: Optional[Path] = typer.Argument(None, help="Checkpoint file or run directory (not with --onnx)."),
    prompt: str = typer.Option("", "--prompt", "-p", help="Prompt text; '-' reads it from stdin."),
    max_new_tokens: int = typer.Option(200, "--max-new-tokens", "-m", min=0, help="Tokens to generate."),
    temperature: float = typer.Option(0.8, "--temperature", "-t", min=0.0, help="0 = greedy."),
    top_k: int = typer.Option(0, "--top-k", min=0, help="Sample among the k most likely (0 = off)."),
    top_p: float = typer.Option(1.0, "--top-p", min=0.0, max=1.0, help="Nucleus sampling mass (1 = off)."),
    repetition_penalty: float = typer.Option(1.0, "--repetition-penalty", min=0.0, help="CTRL-style; 1 = off."),
    stop: Optional[List[str]] = typer.Option(None, "--stop", help="Stop when this string appears (repeatable)."),
    seed: Optional[int] = common.seed_option(None, "Sampling seed (reproducible output)."),
    num_samples: int = typer.Option(1, "-n", "--num-samples", min=1, help="Independent samples."),
    device: str = common.device_option(),
    config_file: Optional[Path] = common.config_option(common.CONFIG_FOR_STATE_DICT),
    onnx: Optional[Path] = typer.Option(None, "--onnx", help="Exported model (qtk export-onnx) to run with onnxruntime; "
                                        "uses its past inputs when it has them."),
    compile: bool = typer.Option(False, "--compile", help="torch.compile the decode step (faster per token; "
                                 "the first tokens wait seconds for the compile)."),
    chat: bool = typer.Option(False, "--chat", help="Prompt as a user turn of the chat template; stop at the end "
                              "of the assistant's turn."),
    memory: Optional[Path] = typer.Option(None, "--memory", help="Corpus memory built by this checkpoint "
                                          "(qtk build-memory) for its kNN layer to search while generating."),
    json_out: bool = common.json_option("Print {texts, new_tokens, tokens_per_s} as JSON instead."),
) -> None:
    from qtk.generate import Sampling, run

    if prompt == "-":
        prompt = sys.stdin.read()
    s = Sampling(max_new_tokens, temperature, top_k, top_p, repetition_penalty, list(stop or []), seed)
    live = num_samples == 1 and not json_out

    def stream(i: int, piece: str) -> None:
        sys.stdout.write(piece)
        sys.stdout.flush()

    out = run(path, prompt, s, n=num_samples, onnx=onnx, device=device, config_file=config_file, compile=compile,
              on_text=stream if live else None, notice=lambda line: sys.stderr.write(line + "\n"), chat=chat,
              memory=memory)
    if json_out:
        common.print_json(out)
        return
    if live:
        sys.stdout.write("\n")
    else:
        for i, text in enumerate(out["texts"]):
            sys.stderr.write(f"--- sample {i + 1}\n")
            sys.stderr.flush()
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
    sys.stderr.write(f"{out['new_tokens']} tokens x {num_samples} at {out['tokens_per_s']:,.1f} tok/s\n")
