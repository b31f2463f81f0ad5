"""What every command shares: error handling, consoles, JSON output and common options."""

import functools
import json
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable

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
