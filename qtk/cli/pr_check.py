"""Which branches or pull requests would conflict with the base, and with each other.

Local mode (offline): the repository's local and remote-tracking branches
(or --branches, --pattern) against --base (default: origin/HEAD, else main
or master).

Forge mode: --github OWNER/REPO checks the open pull requests (token from
GITHUB_TOKEN; --api-url for GitHub Enterprise or Gitea), fetched into a
mirror under the qtk cache, with GitHub's own mergeable state beside
qtk's verdict.

Merges are computed with `git merge-tree` (git >= 2.38); no worktree is
touched. Exit code: 0 all clean, 1 conflicts found, 2 error.
"""

import os
from pathlib import Path

import typer

from qtk.cli import common


def command(
    repo: Path = typer.Option(Path("."), "-C", help="Repository to check (local mode)."),
    base: str = typer.Option(None, "--base", help="Base branch or commit (default: origin/HEAD, main, master; "
                             "with --github: the repository's default branch)."),
    branches: str = typer.Option(None, "--branches", help="Comma-separated branches to check (with --github: PR "
                                 "numbers or head branch names)."),
    pattern: str = typer.Option(None, "--pattern", help="Only branches whose short name matches this glob "
                                "(e.g. 'feature/*'; with --github: the head branch)."),
    github: str = typer.Option(None, "--github", metavar="OWNER/REPO", help="Check this repository's open pull "
                               "requests (token from GITHUB_TOKEN)."),
    api_url: str = typer.Option("https://api.github.com", "--api-url", help="API root, e.g. https://HOST/api/v3 "
                                "(GitHub Enterprise) or https://HOST/api/v1 (Gitea)."),
    exhaustive: bool = typer.Option(False, "--exhaustive", help="Merge every pair, not only pairs whose "
                                    "changed paths overlap."),
    jobs: int = typer.Option(0, "-j", "--jobs", min=0, help="Parallel git processes (0: one per CPU)."),
    max_wait: float = typer.Option(60.0, "--max-wait", min=0, help="Longest wait for an API rate limit, seconds."),
    as_json: bool = common.json_option("Print a JSON report on stdout."),
) -> None:
    from qtk.errors import QtkError

    names = [b.strip() for b in branches.split(",") if b.strip()] if branches else None
    try:
        if github:
            from qtk.paths import cache_dir
            from qtk.tools.pr_check import check_github

            report = check_github(github, cache_dir(), api_url=api_url, token=os.environ.get("GITHUB_TOKEN"),
                                  base=base, branches=names, pattern=pattern, jobs=jobs or None,
                                  exhaustive=exhaustive, max_wait=max_wait)
        else:
            from qtk.tools.pr_check import check_local

            report = check_local(repo, base=base, branches=names, pattern=pattern, jobs=jobs or None,
                                 exhaustive=exhaustive)
    except Exception as e:  # noqa: BLE001 - every failure is exit 2: 1 means "conflicts found"
        if common.STATE.debug:
            raise
        common.fail("pr-check", str(e) if isinstance(e, (OSError, QtkError)) else f"{type(e).__name__}: {e}", 2)
    if as_json:
        common.print_json(report.to_json())
    else:
        _render(report)
    raise typer.Exit(1 if report.has_conflicts else 0)


def _files(files: list[str], kinds: dict[str, str], limit: int = 6) -> str:
    shown = [f"{f} ({kinds[f]})" if f in kinds else f for f in files[:limit]]
    return ", ".join(shown) + (f" +{len(files) - limit} more" if len(files) > limit else "")


def _forge_verdict(extra: dict) -> str:
    """GitHub's mergeable_state (clean, dirty, blocked ...), or Gitea's bare `mergeable`."""
    state = extra.get("github_mergeable_state")
    return state or {True: "mergeable", False: "conflicting"}.get(extra.get("github_mergeable"), "unknown")


def _render(report) -> None:
    from rich.table import Table

    console = common.out_console()
    forge = report.extra.get("mode") == "github"
    partners: dict[str, list[str]] = {}
    for p in report.pairs:
        partners.setdefault(p.a, []).append(p.b)
        partners.setdefault(p.b, []).append(p.a)
    table = Table(title=f"into {report.base} ({report.base_commit[:10]})", title_justify="left")
    for col in ["PR" if forge else "Branch", *(["Title", "GitHub"] if forge else []), "Ahead", "Behind",
                "Merge", "Conflicting files", "Conflicts with"]:
        table.add_column(col, justify="right" if col in ("Ahead", "Behind") else "left", overflow="fold")
    style = {"clean": "green", "conflict": "bold red", "merged": "dim", "unrelated": "yellow", "unavailable": "yellow"}
    for b in report.branches:
        gh = [b.extra.get("title", ""), _forge_verdict(b.extra)]
        table.add_row(b.branch, *(gh if forge else []), str(b.ahead), str(b.behind),
                      f"[{style[b.status]}]{b.status}[/]", _files(b.conflict_files, b.conflict_kinds),
                      ", ".join(partners.get(b.branch, [])))
    console.print(table)
    if report.pairs:
        console.print("Pairs that conflict (merging a, then b):")
        pairs = Table()
        for col in ("a", "b", "files"):
            pairs.add_column(col, overflow="fold")
        for p in report.pairs:
            pairs.add_row(p.a, p.b, _files(p.files, {}))
        console.print(pairs)
    counts = {s: sum(b.status == s for b in report.branches) for s in style}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    console.print(f"{len(report.branches)} checked ({summary or 'none'}); {report.pairs_checked} of "
                  f"{report.pairs_possible} pairs merged, {len(report.pairs)} conflict")
