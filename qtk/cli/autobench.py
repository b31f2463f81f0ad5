"""Run every test module under DIR in its own pytest process, in parallel, and print a scoreboard.

Modules (test_*.py, *_test.py; --pattern) run longest-first by the
durations of the last run, cached in .pytest_cache/qtk-autobench.json
in the nearest directory at or above DIR holding pytest.ini,
pyproject.toml, tox.ini, setup.cfg or .git. Each module runs in its own
process group; --timeout kills the whole group once faulthandler has
printed the stacks. Arguments after `--` go to every pytest run.

Statuses: PASS; FLAKY (failed, then passed with --reruns); SKIP (all
skipped or none collected); FAIL; ERROR (collection or import error);
TIMEOUT; CRASH (a signal, or an exit before pytest's report); NOTRUN
(Ctrl-C, SIGTERM or --session-timeout came first). The output of every module
that did not pass is printed, then the table, then one plain last line
`N passed, N failed[, N skipped]` counting tests.

Each module's pytest is forked from a server that imported pytest, its
plugins and the modules several test modules import (read from their and
their conftests' import lines, and measured on the last run) once, so no
module pays for them again; each still starts from the same pristine state.
An import that starts a thread or initialises CUDA is not preloaded; a
module whose conftest or own code changes os.environ before its tests runs
in a fresh interpreter, so its imports see the change (a notice says so);
once a fresh run showed that nothing preloaded is imported after the change,
later runs fork it again.
--preload adds modules; --no-preload runs a fresh interpreter per module.

A module that dominates the run (its last duration over half a worker's
share, and splitting shortens the run by 10% or more) is collected once and
its tests dealt to up to -j processes forked after collection, merged into
one entry; by default only when its tests share no class/module-scoped
fixture (--split-slow: anyway; --no-split: never).

Exit code: 0 every module PASS, FLAKY or SKIP; 1 otherwise; 2 bad
options or DIR; 5 no test modules found (as pytest's "no tests
collected"); 130 Ctrl-C or SIGTERM.
"""

from pathlib import Path

import typer

from qtk.cli import common


def command(
    target: Path = typer.Argument(..., metavar="DIR", help="Test directory (or one test module)."),
    pytest_args: list[str] = typer.Argument(None, metavar="PYTEST_ARGS",
                                            help="Passed to every pytest run, e.g. `-- -x -k fast`."),
    jobs: int = typer.Option(0, "-j", "--jobs", min=0, help="Modules run at once (0: one per CPU)."),
    timeout: float = typer.Option(None, "--timeout", metavar="S", help="Kill a module after S seconds: TIMEOUT."),
    session_timeout: float = typer.Option(None, "--session-timeout", metavar="S",
                                          help="Stop the whole run after S seconds (the scoreboard still prints)."),
    reruns: int = typer.Option(0, "--reruns", min=0, help="Rerun a FAIL/ERROR/CRASH module up to N times; "
                               "a pass on rerun is FLAKY."),
    json_file: str = typer.Option(None, "--json", metavar="FILE", help="Write the JSON report ('-': stdout, "
                                  "and the scoreboard goes to stderr)."),
    junit_xml: Path = typer.Option(None, "--junit-xml", metavar="FILE", help="Write one merged JUnit XML "
                                   "(xunit2), one testsuite per module."),
    pattern: list[str] = typer.Option(None, "--pattern", metavar="GLOB", help="Test file-name glob; repeat "
                                      "for several (default: test_*.py and *_test.py)."),
    python: str = typer.Option(None, "--python", metavar="EXE", help="Interpreter that runs pytest "
                               "(default: the one running qtk)."),
    preload: str = typer.Option(None, "--preload", metavar="MODULES", help="Also preload these modules "
                                "(comma-separated, e.g. torch,numpy) in the fork server, even if unsafe."),
    no_preload: bool = typer.Option(False, "--no-preload", help="A fresh interpreter per module: no fork "
                                    "server, nothing preloaded (with --preload: only those)."),
    no_split: bool = typer.Option(False, "--no-split", help="Never deal a slow module's tests to several "
                                  "processes."),
    split_slow: bool = typer.Option(False, "--split-slow", help="Split a slow module even when its tests share "
                                    "a class/module-scoped fixture (each chunk sets it up)."),
    cache_file: Path = typer.Option(None, "--cache-file", metavar="FILE", help="Where durations are cached."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the duration cache."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress line per finished module on stderr."),
) -> None:
    import sys
    import time

    from qtk.tools import autobench

    opts = autobench.AutobenchOptions(
        jobs=jobs or autobench.default_jobs(), timeout=timeout, session_timeout=session_timeout,
        reruns=reruns, patterns=tuple(pattern) if pattern else autobench.DEFAULT_PATTERNS,
        pytest_args=tuple(pytest_args or ()), python=python or sys.executable,
        cache_file=cache_file, use_cache=not no_cache,
        preload=tuple(m.strip() for m in preload.split(",") if m.strip()) if preload else (),
        auto_preload=not no_preload, split=not no_split, split_slow=split_slow,
    )
    err = common.err_console()
    started = time.monotonic()

    def progress(result) -> None:
        from rich.markup import escape

        if not quiet:
            err.print(f"[dim]{time.monotonic() - started:6.1f}s[/] {_styled(result.status)} "
                      f"{escape(result.module)} [dim]{result.duration_s:.2f}s[/]", highlight=False)

    def notice(line: str) -> None:
        from rich.markup import escape

        err.print(f"[yellow]autobench:[/] {escape(line)}", highlight=False)

    report = autobench.run_suite(target, opts, on_result=progress, on_notice=notice)
    if junit_xml is not None:
        autobench.write_junit(report, junit_xml)
    if json_file == "-":
        common.print_json(report.to_json())
    elif json_file:
        import json

        Path(json_file).parent.mkdir(parents=True, exist_ok=True)
        Path(json_file).write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    _render(report, err if json_file == "-" else common.out_console())
    raise typer.Exit(130 if report.interrupted else 0 if report.ok else 1)


_STYLE = {"PASS": "green", "FLAKY": "yellow", "SKIP": "dim", "FAIL": "bold red", "ERROR": "bold red",
          "TIMEOUT": "bold magenta", "CRASH": "bold magenta", "NOTRUN": "yellow"}


def _styled(status: str) -> str:
    return f"[{_STYLE.get(status, '')}]{status:<7}[/]"


def _render(report, console) -> None:
    from rich.markup import escape
    from rich.rule import Rule
    from rich.table import Table

    if not console.is_terminal:
        console.width = max(console.width, 120)  # CI logs: keep module paths on one line
    for r in report.results:
        if r.status not in ("PASS", "SKIP") and r.output:
            label = "output of the failed attempt" if r.status == "FLAKY" else "output"
            console.print(Rule(f"{r.module}: {r.status} ({label})", style=_STYLE[r.status]))
            console.out(r.output.rstrip("\n"), highlight=False)
    n = len(report.results)
    table = Table(title=f"qtk autobench: {n} module{'s' if n != 1 else ''}, -j {report.jobs}, "
                  f"{report.wall_s:.1f}s wall", title_justify="left")
    table.add_column("Module", overflow="fold")
    table.add_column("Status")
    for col in ("Passed", "Failed", "Skipped", "Time"):
        table.add_column(col, justify="right")
    table.add_column("Detail", overflow="fold")
    for r in report.results:
        table.add_row(escape(r.module), _styled(r.status), str(r.passed), str(r.failed), str(r.skipped),
                      f"{r.duration_s:.2f}s", escape(r.detail))
    console.print(table)
    if report.interrupted:
        console.print("[yellow]interrupted (Ctrl-C or SIGTERM): modules still running were killed[/]")
    elif report.session_timed_out:
        console.print("[yellow]session timeout: modules still running were killed[/]")
    console.file.flush()
    # Plain, unstyled and last, for CI log readers that grep it.
    console.file.write(report.summary_line() + "\n")
    console.file.flush()
