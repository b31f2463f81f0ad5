"""Git plumbing for pr-check: every question is answered by a git subprocess (argument lists,
never a shell), and nothing touches a worktree or the index.

Merges are computed with `git merge-tree --write-tree` (git >= 2.38), the worktree-less front end
of the same "ort" merge that `git merge` runs, so its verdict matches a real merge: exit 0 clean,
1 conflicted (paths listed with `--name-only -z`), anything else an error. It writes the result's
trees and blobs into the object store, as `git merge` would; they are unreferenced and `git gc`
prunes them.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from qtk.errors import QtkError

MIN_GIT = (2, 38)
# English, unpaged, never prompting: messages are parsed, and a CI job must not hang on a password.
_ENV = {"LC_ALL": "C", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
_REPO_VARS = {"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR"}
# commit-tree needs an identity; these synthetic merge commits are never referenced by a ref.
_IDENTITY = {
    "GIT_AUTHOR_NAME": "qtk pr-check", "GIT_AUTHOR_EMAIL": "pr-check@qtk.invalid",
    "GIT_COMMITTER_NAME": "qtk pr-check", "GIT_COMMITTER_EMAIL": "pr-check@qtk.invalid",
    "GIT_AUTHOR_DATE": "1700000000 +0000", "GIT_COMMITTER_DATE": "1700000000 +0000",
}


@dataclass
class MergeResult:
    """Outcome of one `git merge-tree`: the merged tree and, when conflicted, the paths and kinds."""

    clean: bool
    tree: str
    files: list[str] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)  # path -> "content", "add/add", "modify/delete" ...


@dataclass
class Ref:
    """A candidate: the short name shown to the user, the full ref name and its commit."""

    name: str
    refname: str
    commit: str


class Git:
    """One repository (worktree or bare). `env` adds variables to every call (e.g. auth config)."""

    def __init__(self, repo: Path, env: dict[str, str] | None = None):
        self.repo = Path(repo)
        # a caller running inside a git hook exports GIT_DIR & co., which would override -C
        inherited = {k: v for k, v in os.environ.items() if k not in _REPO_VARS}
        self.env = {**inherited, **_ENV, **(env or {})}

    def run(self, *args: str, ok: tuple[int, ...] = (0,), env: dict[str, str] | None = None,
            input: str | None = None) -> subprocess.CompletedProcess:
        cmd = ["git", "-C", str(self.repo), *args]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, input=input,
                                  env={**self.env, **(env or {})})
        except FileNotFoundError:
            raise QtkError("git is not installed (not found on PATH)") from None
        if proc.returncode not in ok:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise QtkError(f"git {args[0]} failed in {self.repo}: {detail[-1] if detail else f'exit {proc.returncode}'}")
        return proc

    def check_repo(self) -> None:
        """Clear errors for an old git or a directory that is not a repository."""
        check_git_version()
        if not self.repo.is_dir():
            raise QtkError(f"{self.repo}: no such directory")
        proc = self.run("rev-parse", "--git-dir", ok=(0, 128))
        if proc.returncode != 0:
            raise QtkError(f"{self.repo} is not a git repository")

    def resolve(self, rev: str) -> str | None:
        """The commit `rev` names, or None."""
        proc = self.run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", ok=(0, 1, 128))
        return proc.stdout.strip() if proc.returncode == 0 else None

    def list_refs(self) -> list[Ref]:
        """Local and remote-tracking branches; symbolic refs (origin/HEAD) left out."""
        fmt = "%(refname)%00%(refname:short)%00%(objectname)%00%(symref)"
        out = self.run("for-each-ref", f"--format={fmt}", "refs/heads", "refs/remotes").stdout
        refs = []
        for line in out.splitlines():
            refname, short, commit, symref = line.split("\0")
            if not symref:
                refs.append(Ref(short, refname, commit))
        return refs

    def default_base(self) -> str:
        """The remote's default branch (origin/HEAD), else main/master (local, then origin)."""
        proc = self.run("symbolic-ref", "-q", "--short", "refs/remotes/origin/HEAD", ok=(0, 1, 128))
        if proc.returncode == 0 and self.resolve(proc.stdout.strip()):
            return proc.stdout.strip()
        for name in ("main", "master", "origin/main", "origin/master"):
            if self.resolve(name):
                return name
        raise QtkError(f"{self.repo}: no base branch found (no origin/HEAD, main or master); pass --base")

    def merge_base(self, a: str, b: str) -> str | None:
        """Best common ancestor, or None for unrelated histories."""
        proc = self.run("merge-base", a, b, ok=(0, 1))
        return proc.stdout.strip() or None

    def ahead_behind(self, base: str, commit: str) -> tuple[int, int]:
        """(commits on `commit` not on base, commits on base not on `commit`)."""
        behind, ahead = self.run("rev-list", "--left-right", "--count", f"{base}...{commit}").stdout.split()
        return int(ahead), int(behind)

    def changed_paths(self, since: str, commit: str) -> tuple[set[str], set[str]]:
        """(paths changed from `since` to `commit`, paths deleted). Renames count as delete + add
        so that both names take part in the overlap test."""
        out = self.run("diff-tree", "-r", "--name-status", "--no-renames", "-z", since, commit).stdout
        fields = out.split("\0")
        changed, deleted = set(), set()
        for status, path in zip(fields[0::2], fields[1::2]):
            changed.add(path)
            if status == "D":
                deleted.add(path)
        return changed, deleted

    def merge_tree(self, ours: str, theirs: str) -> MergeResult:
        """Merge two commits in memory (the same merge `git merge` would do)."""
        proc = self.run("merge-tree", "--write-tree", "--name-only", "-z", ours, theirs, ok=(0, 1, 128, 129))
        if proc.returncode not in (0, 1):
            detail = proc.stderr.strip().splitlines()
            raise QtkError(f"git merge-tree {ours} {theirs} failed: {detail[-1] if detail else proc.returncode}")
        return parse_merge_tree(proc.stdout, clean=proc.returncode == 0, labels=(ours, theirs))

    def commit_tree(self, tree: str, *parents: str) -> str:
        """An unreferenced commit object with the given tree and parents (a simulated merge)."""
        args = [x for p in parents for x in ("-p", p)]
        return self.run("commit-tree", tree, *args, "-m", "qtk pr-check simulated merge",
                        env=_IDENTITY).stdout.strip()


def parse_merge_tree(out: str, clean: bool, labels: tuple[str, ...] = ()) -> MergeResult:
    """Parse `merge-tree --write-tree --name-only -z` output: tree NUL, conflicted paths each NUL,
    an empty field, then messages as `<n> NUL path... NUL <type> NUL <text> NUL`.

    A file in the way of a directory is moved aside to `path~<side>`; `labels` (the two sides as
    given to merge-tree) map those back to `path`, so the name does not depend on how the commits
    were spelled."""
    fields = out.split("\0")
    tree = fields[0].strip()
    if clean:
        return MergeResult(True, tree)
    i, files = 1, []
    while i < len(fields) and fields[i]:
        files.append(fields[i])
        i += 1
    kinds: dict[str, str] = {}
    i += 1
    while i < len(fields) and fields[i].isdigit():
        n = int(fields[i])
        paths, kind, text = fields[i + 1:i + 1 + n], fields[i + 1 + n], fields[i + 2 + n]
        # the message names the kind more precisely than the type ("add/add" vs "contents")
        match = re.match(r"CONFLICT \(([^)]+)\):", text) or re.match(r"CONFLICT \(([^)]+)\)", kind)
        for path in paths if match else ():
            kinds.setdefault(path, match.group(1))
        i += n + 3
    suffixes = tuple(f"~{label.replace('/', '_')}" for label in labels)
    files = list(dict.fromkeys(_unsuffix(f, suffixes) for f in files))
    kinds = {_unsuffix(p, suffixes): k for p, k in reversed(kinds.items())}  # reversed: first one wins
    # a conflict recorded only in messages (no path at a higher stage) still needs a name
    files = files or sorted(kinds)
    return MergeResult(False, tree, files, {p: kinds[p] for p in files if p in kinds})


def _unsuffix(path: str, suffixes: tuple[str, ...]) -> str:
    return next((path[:-len(s)] for s in suffixes if path.endswith(s)), path)


def git_version() -> tuple[int, ...]:
    try:
        out = subprocess.run(["git", "--version"], capture_output=True, text=True, check=True).stdout
    except (FileNotFoundError, subprocess.CalledProcessError):
        raise QtkError("git is not installed (not found on PATH)") from None
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    if not match:
        raise QtkError(f"cannot read the git version from {out.strip()!r}")
    return tuple(int(x) for x in match.groups(default="0"))


def check_git_version(version: tuple[int, ...] | None = None) -> None:
    version = version or git_version()
    if tuple(version[:2]) < MIN_GIT:
        have = ".".join(map(str, version))
        raise QtkError(f"git {have} is too old: pr-check needs git >= 2.38 (for `git merge-tree --write-tree`)")
