"""What every command shares: error handling, consoles, JSON output, and the options that several
commands take, each defined once here (name, short flag, type; the help may say what it means
for that command)."""

import functools
import json
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Optional

import typer


@dataclass
class _State:
    debug: bool = bool(os.environ.get("QTK_DEBUG"))


STATE = _State()


def err_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def out_console():
    from rich.console import Console

    return Console(highlight=False)


def fail(command: str, message: str, code: int) -> None:
    """One line on stderr naming the problem, then exit with `code`."""
    sys.stderr.write(f"qtk {command}: error: {message}\n")
    sys.stderr.flush()
    raise typer.Exit(code)


def guarded(command: str, fn: Callable) -> Callable:
    """Turn qtk errors into one stderr line + exit code (tracebacks only with --debug)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from qtk.errors import QtkError

        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except QtkError as e:
            if STATE.debug:
                raise
            fail(command, str(e), e.exit_code)
        except KeyboardInterrupt:
            if STATE.debug:
                raise
            sys.stderr.write(f"qtk {command}: interrupted\n")
            raise typer.Exit(130)
        except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
            if STATE.debug:
                raise
            fail(command, f"{e.strerror}: {e.filename}", 1)
        except Exception as e:  # noqa: BLE001 - last resort: still one line, exit 1
            if STATE.debug:
                raise
            fail(command, f"{type(e).__name__}: {e} (run `qtk --debug {command} ...` for the traceback)", 1)

    return wrapper


def print_json(obj: Any) -> None:
    """One JSON document on stdout (scripts parse it)."""
    sys.stdout.write(json.dumps(obj, indent=2, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "__fspath__"):
        return os.fspath(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def parse_sets(values: list[str] | None) -> list[tuple[str, str]]:
    """`--set a.b=c` pairs, split on the first '='."""
    pairs = []
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            from qtk.errors import UsageError

            raise UsageError(f"--set expects KEY=VALUE, got {item!r}")
        pairs.append((key.strip(), value.strip()))
    return pairs


# ------------------------------------------------------------------ shared options
# Factories, not values: typer reads each parameter's default, so every command gets its own.

DEVICE_HELP = "auto | cpu | cuda | cuda:N."
CONFIG_HELP = "TOML file with [model], [train] and [data] tables."
CONFIG_FOR_STATE_DICT = "qtk config.toml of a bare .pt state dict (default: the one beside it)."
SIZE_HELP = "Preset: tiny (~1M params), small (~10M), medium (~50M), large (~200M). Default tiny."


def json_option(help: str = "Print the result as one JSON object on stdout.") -> Any:
    return typer.Option(False, "--json", help=help)


def device_option(default: Optional[str] = "auto", help: str = DEVICE_HELP) -> Any:
    return typer.Option(default, "--device", help=help)


def seed_option(default: Optional[int], help: str) -> Any:
    return typer.Option(default, "--seed", help=help)


def config_option(help: str = CONFIG_HELP) -> Any:
    return typer.Option(None, "--config", "-c", help=help)


def force_option() -> Any:
    return typer.Option(False, "--force", "-f", help="Overwrite an existing output.")


def output_option(default: Any = ..., help: str = "Output file.") -> Any:
    """-o is the output path in every command (train's run directory is -o/--out-dir)."""
    return typer.Option(default, "-o", "--output", help=help)


def size_option() -> Any:
    return typer.Option(None, "--size", "-s", help=SIZE_HELP)


def sets_option(help: str = "Override one setting: section.key=value.") -> Any:
    return typer.Option(None, "--set", help=help)


def int4_group_option(default: Optional[int], help: str) -> Any:
    """Input columns per int4 scale: one name in `qtk quantize` and `qtk export-onnx`."""
    return typer.Option(default, "--group", help=help)


def renamed_option(old: str, new: str) -> Any:
    """A former option name, hidden from help and docs; `renamed` resolves it."""
    return typer.Option(None, old, hidden=True, help=f"Deprecated: use {new}.")


def renamed(new_value: Any, old_value: Any, old: str, new: str, default: Any = None) -> Any:
    """The value given under the new name or the old one (not both)."""
    if old_value is None:
        return new_value
    if new_value not in (None, default):
        from qtk.errors import UsageError

        raise UsageError(f"{old} is the old name of {new}: give one of them")
    sys.stderr.write(f"qtk: note: {old} is now {new}\n")
    return old_value


def setting_help(key: str) -> str:
    """The help text of a config setting (`train.seed`): flags that set one say the same."""
    return _settings_help()[key]


@functools.lru_cache(maxsize=1)
def _settings_help() -> dict[str, str]:
    from qtk.config import describe  # no torch: config imports none

    return {key: help_text for key, _type, _default, help_text in describe()}
