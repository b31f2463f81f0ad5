"""Forge mode: open pull requests from a GitHub(-compatible) API, their heads fetched into a local
bare mirror, then the same analysis as local mode, with the forge's own verdict beside it.

Heads come from `refs/pull/N/head` of the base repository (GitHub, GitHub Enterprise and Gitea all
publish them), or, when that ref is missing, from the head repository's clone URL and branch.
"""

from __future__ import annotations

import base64
import fnmatch
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from qtk.errors import QtkError, UsageError
from qtk.tools.pr_check.analysis import BranchResult, Report, analyze
from qtk.tools.pr_check.git import Git, Ref, check_git_version
from qtk.tools.pr_check.github import DEFAULT_API, GitHubClient


def check_github(owner_repo: str, cache: Path, api_url: str = DEFAULT_API, token: str | None = None,
                 base: str | None = None, branches: list[str] | None = None, pattern: str | None = None,
                 jobs: int | None = None, exhaustive: bool = False, max_wait: float = 60.0,
                 poll_delay: float = 2.0) -> Report:
    """Analyse the open pull requests of OWNER/REPO that target `base` (default: the default branch)."""
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", owner_repo):
        raise UsageError(f"--github expects OWNER/REPO, got {owner_repo!r}")
    if branches and pattern:
        raise UsageError("--branches and --pattern are exclusive: give one")
    check_git_version()
    client = GitHubClient(api_url, token, max_wait=max_wait)
    repo = client.repo(owner_repo)
    if not isinstance(repo, dict) or not repo.get("clone_url"):
        raise QtkError(f"{api_url}: repos/{owner_repo} has no clone_url")
    base = base or repo.get("default_branch") or "main"
    pulls = [p for p in client.open_pulls(owner_repo, base) if _selected(p, branches, pattern)]
    pulls = _with_mergeable(client, owner_repo, pulls, poll_delay)
    mirror = mirror_path(cache, client.host, owner_repo)
    git = Git(mirror, env=_git_auth_env(repo.get("clone_url", ""), token))
    fetched = fetch_heads(git, repo["clone_url"], base, pulls)
    base_commit = git.resolve(f"refs/heads/{base}")
    candidates = [Ref(f"#{p['number']}", ref, git.resolve(ref)) for p, ref in zip(pulls, fetched) if ref]
    report = analyze(git, base, base_commit, candidates, jobs=jobs, exhaustive=exhaustive)
    by_name = {r.branch: r for r in report.branches}
    for p, ref in zip(pulls, fetched):
        result = by_name.get(f"#{p['number']}") or _unavailable(report, p)
        result.extra.update(_pull_fields(p))
    report.branches.sort(key=lambda r: r.extra["number"])
    report.extra.update(mode="github", repository=owner_repo, mirror=str(mirror))
    return report


def _selected(pull: dict[str, Any], branches: list[str] | None, pattern: str | None) -> bool:
    """--branches takes PR numbers (12 or #12) or head branch names; --pattern globs head names."""
    head = pull.get("head", {}).get("ref", "")
    if branches:
        return any(b.lstrip("#") == str(pull["number"]) or b == head for b in branches)
    return pattern is None or fnmatch.fnmatchcase(head, pattern)


def _with_mergeable(client: GitHubClient, owner_repo: str, pulls: list[dict], poll_delay: float) -> list[dict]:
    """The list endpoint omits `mergeable`; fetch each PR. GitHub answers null while it computes
    the merge in the background, so ask those once more after `poll_delay` seconds."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        full = list(pool.map(lambda p: client.pull(owner_repo, p["number"]), pulls))
        pending = [i for i, p in enumerate(full) if p.get("mergeable") is None]
        if pending and poll_delay > 0:
            time.sleep(poll_delay)
            for i, p in zip(pending, pool.map(lambda i: client.pull(owner_repo, full[i]["number"]), pending)):
                full[i] = p
    return full


def mirror_path(cache: Path, host: str, owner_repo: str) -> Path:
    return Path(cache) / "pr-check" / re.sub(r"[^\w.-]", "_", host) / f"{owner_repo}.git"


def fetch_heads(git: Git, clone_url: str, base: str, pulls: list[dict]) -> list[str | None]:
    """Fetch the base branch and every PR head into the mirror; the local ref of each (or None)."""
    if not (git.repo / "HEAD").exists():
        git.repo.mkdir(parents=True, exist_ok=True)
        git.run("init", "--bare", "--quiet")
    refs = [f"refs/pull/{p['number']}/head" for p in pulls]
    specs = [f"+refs/heads/{base}:refs/heads/{base}"] + [f"+{r}:{r}" for r in refs]
    if git.run("fetch", "--quiet", "--no-tags", clone_url, *specs, ok=(0, 1, 128)).returncode == 0:
        return refs
    # one missing ref fails the whole fetch: retry one by one, then from the head repository
    git.run("fetch", "--quiet", "--no-tags", clone_url, specs[0])
    out: list[str | None] = []
    for pull, ref in zip(pulls, refs):
        head = pull.get("head") or {}
        sources = [(clone_url, ref)]
        if (head.get("repo") or {}).get("clone_url") and head.get("ref"):
            sources.append((head["repo"]["clone_url"], f"refs/heads/{head['ref']}"))
        ok = any(git.run("fetch", "--quiet", "--no-tags", url, f"+{src}:{ref}", ok=(0, 1, 128)).returncode == 0
                 for url, src in sources)
        out.append(ref if ok else None)
    return out


def _git_auth_env(clone_url: str, token: str | None) -> dict[str, str]:
    """Token for git over HTTPS, passed as config in the environment (never on a command line),
    and scoped to the repository's host so a fork elsewhere never receives it."""
    match = re.match(r"(https?://[^/]+)/", clone_url)
    if not token or not match:
        return {}
    n = int(os.environ.get("GIT_CONFIG_COUNT", "0") or 0)
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {"GIT_CONFIG_COUNT": str(n + 1), f"GIT_CONFIG_KEY_{n}": f"http.{match.group(1)}/.extraHeader",
            f"GIT_CONFIG_VALUE_{n}": f"Authorization: Basic {basic}"}


def _pull_fields(pull: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": pull["number"], "title": pull.get("title", ""), "url": pull.get("html_url"),
        "head_ref": (pull.get("head") or {}).get("ref"),
        "github_mergeable": pull.get("mergeable"), "github_mergeable_state": pull.get("mergeable_state"),
    }


def _unavailable(report: Report, pull: dict[str, Any]) -> BranchResult:
    result = BranchResult(f"#{pull['number']}", (pull.get("head") or {}).get("sha", ""), status="unavailable")
    report.branches.append(result)
    return result
