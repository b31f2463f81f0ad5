"""Local mode: candidates are the repository's own branches (offline, nothing fetched)."""

from __future__ import annotations

import fnmatch
from pathlib import Path

from qtk.errors import UsageError
from qtk.tools.pr_check.analysis import Report, analyze
from qtk.tools.pr_check.git import Git, Ref


def check_local(repo: Path, base: str | None = None, branches: list[str] | None = None,
                pattern: str | None = None, jobs: int | None = None, exhaustive: bool = False) -> Report:
    """Which branches of `repo` conflict with `base`, and with each other."""
    if branches and pattern:
        raise UsageError("--branches and --pattern are exclusive: give one")
    git = Git(repo)
    git.check_repo()
    base = base or git.default_base()
    base_commit = git.resolve(base)
    if base_commit is None:
        raise UsageError(f"--base {base}: no such branch or commit in {repo}")
    if branches:
        candidates = [_named(git, name) for name in branches]
    else:
        candidates = [r for r in candidate_refs(git.list_refs(), base)
                      if pattern is None or fnmatch.fnmatchcase(r.name, pattern)]
    report = analyze(git, base, base_commit, candidates, jobs=jobs, exhaustive=exhaustive)
    report.extra["mode"] = "local"
    return report


def _named(git: Git, name: str) -> Ref:
    commit = git.resolve(name)
    if commit is None:
        raise UsageError(f"--branches: no branch or commit named {name!r} in {git.repo}")
    return Ref(name, name, commit)


def branch_part(ref: Ref) -> str:
    """'refs/remotes/origin/feat/x' -> 'feat/x'; 'refs/heads/feat/x' -> 'feat/x'."""
    if ref.refname.startswith("refs/remotes/"):
        return ref.refname.split("/", 3)[-1]
    return ref.refname.removeprefix("refs/heads/")


def candidate_refs(refs: list[Ref], base: str) -> list[Ref]:
    """All branches except the base and its namesakes (main and origin/main are one branch to a
    reviewer); a remote-tracking branch at the same commit as the local one is listed once."""
    by_name = {r.name: r for r in refs}
    base_ref = by_name.get(base) or by_name.get(base.removeprefix("refs/heads/"))
    base_branch = branch_part(base_ref) if base_ref else None
    local = {branch_part(r): r.commit for r in refs if r.refname.startswith("refs/heads/")}
    out = []
    for r in refs:
        part = branch_part(r)
        if part == base_branch or r.name == base:
            continue
        if r.refname.startswith("refs/remotes/") and local.get(part) == r.commit:
            continue
        out.append(r)
    return out
