#!/usr/bin/env python3
"""Generate completions/ (bash, zsh, fish) and man/ (qtk.1 + qtk-<command>.1) from the Typer app.

    python scripts/gen_docs.py          # write the files
    python scripts/gen_docs.py --check  # exit 1 listing stale files (tests/test_docs.py runs this)
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
import typer.core
from typer._completion_shared import get_completion_script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qtk import __version__  # noqa: E402
from qtk.cli import app  # noqa: E402

SHELLS = {"bash": "qtk.bash", "zsh": "_qtk", "fish": "qtk.fish"}


def _roff(text: str) -> str:
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line) if line.startswith((".", "'")) else line for line in text.splitlines())


def _header(name: str, summary: str) -> list[str]:
    return [f'.TH "{name.upper()}" "1" "" "qtk {__version__}" "qtk manual"', ".SH NAME",
            f"{_roff(name)} \\- {_roff(summary)}"]


def _metavar(p) -> str:
    if p.metavar:
        return p.metavar
    ann = p.type_descriptor.annotation
    args = [a for a in getattr(ann, "__args__", ()) if a is not type(None)]
    ann = args[0] if args else ann
    ann = getattr(ann, "__args__", (ann,))[0] if getattr(ann, "__origin__", None) in (list, tuple) else ann
    return {int: "INTEGER", float: "FLOAT", str: "TEXT", bool: "BOOLEAN"}.get(ann, "PATH" if "Path" in str(ann) else "VALUE")


def _arg(p) -> str:
    name = p.name.upper()
    name = f"{name}..." if p.nargs == -1 else name
    return name if p.required else f"[{name}]"


def _options(cmd) -> list[str]:
    lines = [".SH OPTIONS"]
    for p in cmd.params:
        if isinstance(p, typer.core.TyperArgument) or getattr(p, "hidden", False):
            continue  # hidden: a former option name kept working, not documented
        names = ", ".join(p.opts + p.secondary_opts)
        is_flag = getattr(p, "is_flag", False)
        metavar = "" if is_flag else f" {_metavar(p)}"
        lines += [".TP", f"\\fB{_roff(names)}\\fR{_roff(metavar)}", _roff(p.help or "")]
        if p.default not in (None, False, ()) and not is_flag and p.show_default is not False:
            lines.append(_roff(f"Default: {p.default}."))
    return lines


def _summary(help_text: str | None) -> str:
    return (help_text or "").strip().split("\n\n")[0].replace("\n", " ")


def _settings() -> list[str]:
    """Every config key with its type, default and help: the dataclasses are the one source."""
    from qtk.config import describe

    lines = [".SH SETTINGS", _roff("Keys for --config FILE.toml ([section] tables) and --set section.key=value:")]
    for key, typ, default, help_text in describe():
        lines += [".TP", f"\\fB{_roff(key)}\\fR ({typ}, default {_roff(repr(default))})", _roff(help_text)]
    return lines


def command_page(name: str, cmd) -> str:
    args = " ".join(_arg(p) for p in cmd.params if isinstance(p, typer.core.TyperArgument))
    lines = _header(f"qtk-{name}", _summary(cmd.help).split(". ")[0].rstrip("."))
    lines += [".SH SYNOPSIS", f"\\fBqtk {_roff(name)}\\fR [OPTIONS] {_roff(args)}".rstrip(),
              ".SH DESCRIPTION", _roff((cmd.help or "").strip())]
    lines += _options(cmd)
    if name == "train":
        lines += _settings()
    lines += [".SH SEE ALSO", "\\fBqtk\\fR(1)"]
    return "\n".join(lines) + "\n"


def main_page(group) -> str:
    lines = _header("qtk", _summary(group.help))
    lines += [".SH SYNOPSIS", "\\fBqtk\\fR [\\-\\-version] [\\-\\-debug] \\fICOMMAND\\fR [ARGS]...",
              ".SH DESCRIPTION", _roff((group.help or "").strip()), ".SH COMMANDS"]
    for name, cmd in group.commands.items():
        lines += [".TP", f"\\fBqtk {_roff(name)}\\fR", _roff(_summary(cmd.help)), f"See \\fBqtk\\-{_roff(name)}\\fR(1)."]
    lines += [".SH EXIT STATUS", "0 on success, 1 on failure, 2 on bad usage, 130 when interrupted."]
    return "\n".join(lines) + "\n"


def expected() -> dict[Path, str]:
    group = typer.main.get_command(app)
    files = {ROOT / "completions" / fname: get_completion_script(prog_name="qtk", complete_var="_QTK_COMPLETE", shell=sh)
             for sh, fname in SHELLS.items()}
    files[ROOT / "man" / "qtk.1"] = main_page(group)
    for name, cmd in group.commands.items():
        files[ROOT / "man" / f"qtk-{name}.1"] = command_page(name, cmd)
    return files


def main() -> int:
    files = expected()
    check = "--check" in sys.argv
    stale = [p for p, text in files.items() if not p.is_file() or p.read_text() != text]
    extra = [p for p in (ROOT / "man").glob("*.1") if p not in files]
    if check:
        for p in stale + extra:
            print(f"stale: {p.relative_to(ROOT)}")
        return 1 if stale or extra else 0
    for p in extra:
        p.unlink()
    for p in stale:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(files[p])
        print(f"wrote {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
