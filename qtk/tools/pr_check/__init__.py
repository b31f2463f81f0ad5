"""pr-check: which branches or pull requests would conflict with the base, and with each other.

`git.py` is the plumbing (merge-tree, ahead/behind, changed paths), `analysis.py` the verdicts,
`local.py` the offline mode over a repository's branches, `github.py` + `forge.py` the mode over a
GitHub(-compatible) API's open pull requests. Follows `git merge-tree --write-tree` (git >= 2.38)
and, for PR-vs-PR conflicts, the idea of conflibot.
"""

from qtk.tools.pr_check.analysis import BranchResult, PairConflict, Report, analyze
from qtk.tools.pr_check.forge import check_github
from qtk.tools.pr_check.local import check_local

__all__ = ["BranchResult", "PairConflict", "Report", "analyze", "check_github", "check_local"]
