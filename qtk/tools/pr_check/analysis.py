"""The analysis both modes share: each candidate against the base, then candidates pairwise.

Against the base: ahead/behind, and `git merge-tree base branch` (the merge `git merge` would do).
Pairwise, in the spirit of conflibot (which flags PRs that conflict with each other, something
GitHub does not show): for two branches that each merge cleanly, does merging `a` into the base
and then `b` on top conflict? The first merge is built as an unreferenced commit (its tree comes
from merge-tree, parents base and a), so the second merge-tree sees the same history a real
sequence of `git merge` would.

Most pairs cannot conflict, and are never merged: a merge can only conflict on a path both sides
changed, or where one side's file sits on the other's directory, or (directory-rename detection)
inside a directory one side emptied. Changed paths are taken from each branch's merge-base with
the base; `exhaustive=True` merges every pair instead (for histories where that is not enough,
e.g. branches stacked on one another that revert each other's changes).
"""

from __future__ import annotations

import itertools
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable

from qtk.tools.pr_check.git import Git, Ref


@dataclass
class BranchResult:
    """One candidate. `status`: clean, conflict, merged (already in the base) or unrelated."""

    branch: str
    commit: str
    ahead: int = 0
    behind: int = 0
    status: str = "clean"
    conflict_files: list[str] = field(default_factory=list)
    conflict_kinds: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # forge fields (number, title, mergeable)
    # internal: what the pairwise stage needs
    changed: set[str] = field(default_factory=set, repr=False)
    vacated: set[str] = field(default_factory=set, repr=False)
    merged_commit: str | None = field(default=None, repr=False)

    @property
    def conflicts_with_base(self) -> bool:
        return self.status == "conflict"

    def to_json(self) -> dict[str, Any]:
        return {
            "branch": self.branch, "commit": self.commit, "ahead": self.ahead, "behind": self.behind,
            "status": self.status, "conflicts_with_base": self.conflicts_with_base,
            "conflict_files": self.conflict_files, "conflict_kinds": self.conflict_kinds, **self.extra,
        }


@dataclass
class PairConflict:
    a: str
    b: str
    files: list[str]


@dataclass
class Report:
    base: str
    base_commit: str
    branches: list[BranchResult]
    pairs: list[PairConflict]
    pairs_possible: int = 0  # pairs of branches that each merge cleanly
    pairs_checked: int = 0  # of those, pairs actually merged (after the changed-path filter)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def has_conflicts(self) -> bool:
        return bool(self.pairs) or any(b.conflicts_with_base for b in self.branches)

    def to_json(self) -> dict[str, Any]:
        return {
            "base": self.base, "base_commit": self.base_commit, **self.extra,
            "conflicts": self.has_conflicts,
            "branches": [b.to_json() for b in self.branches],
            "pairs": [{"a": p.a, "b": p.b, "files": p.files} for p in self.pairs],
            "pairs_possible": self.pairs_possible, "pairs_checked": self.pairs_checked,
        }


def analyze(git: Git, base: str, base_commit: str, candidates: list[Ref], jobs: int | None = None,
            exhaustive: bool = False) -> Report:
    """Check every candidate against `base_commit`, then the clean ones pairwise."""
    jobs = jobs or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(lambda ref: check_branch(git, base_commit, ref), candidates))
        clean = [r for r in results if r.status == "clean"]
        todo = list(itertools.combinations(clean, 2)) if exhaustive else list(overlapping_pairs(clean))
        merged = pool.map(lambda ab: git.merge_tree(ab[0].merged_commit, ab[1].commit), todo)
        pairs = [PairConflict(a.branch, b.branch, m.files) for (a, b), m in zip(todo, merged) if not m.clean]
    n = len(clean)
    return Report(base, base_commit, results, pairs, pairs_possible=n * (n - 1) // 2, pairs_checked=len(todo))


def check_branch(git: Git, base_commit: str, ref: Ref) -> BranchResult:
    """Ahead/behind and the merge into the base; for clean merges, what the pair stage needs."""
    result = BranchResult(ref.name, ref.commit)
    fork = git.merge_base(base_commit, ref.commit)
    if fork is None:
        result.status = "unrelated"  # `git merge` refuses these without --allow-unrelated-histories
        return result
    result.ahead, result.behind = git.ahead_behind(base_commit, ref.commit)
    if result.ahead == 0:
        result.status = "merged"
        return result
    merge = git.merge_tree(base_commit, ref.commit)
    if not merge.clean:
        result.status = "conflict"
        result.conflict_files, result.conflict_kinds = merge.files, merge.kinds
        return result
    changed, deleted = git.changed_paths(fork, ref.commit)
    result.changed = changed
    result.vacated = vacated_dirs(git, ref.commit, deleted)
    # `git merge` fast-forwards when the base is an ancestor; otherwise it records this merge commit
    result.merged_commit = ref.commit if result.behind == 0 else git.commit_tree(merge.tree, base_commit, ref.commit)
    return result


def vacated_dirs(git: Git, commit: str, deleted: set[str]) -> set[str]:
    """Directories that lost files and no longer exist at `commit` (renamed or removed whole),
    the ones git's directory-rename detection acts on."""
    dirs = sorted({d for path in deleted for d in parents(path)})
    if not dirs:
        return set()
    out = git.run("cat-file", "--batch-check", input="".join(f"{commit}:{d}\n" for d in dirs)).stdout
    return {d for d, line in zip(dirs, out.splitlines()) if line.endswith(" missing")}


def parents(path: str) -> list[str]:
    """'a/b/c.py' -> ['a', 'a/b']."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def overlapping_pairs(results: list[BranchResult]) -> Iterable[tuple[BranchResult, BranchResult]]:
    """Pairs that could conflict, in candidate order: a shared changed path, a file on one side
    where the other has a directory, or a path inside a directory the other side vacated."""
    files, dirs, vacated = defaultdict(list), defaultdict(list), defaultdict(list)
    for i, r in enumerate(results):
        for path in r.changed:
            files[path].append(i)
            for d in parents(path):
                dirs[d].append(i)
        for d in r.vacated:
            vacated[d].append(i)
    found: set[tuple[int, int]] = set()
    for path, holders in files.items():
        found.update(itertools.combinations(holders, 2))
        found.update(itertools.product(holders, dict.fromkeys(dirs.get(path, ()))))
    for d, holders in vacated.items():
        found.update(itertools.product(holders, dict.fromkeys(dirs.get(d, ()))))
    for i, j in sorted({(min(i, j), max(i, j)) for i, j in found if i != j}):
        yield results[i], results[j]
