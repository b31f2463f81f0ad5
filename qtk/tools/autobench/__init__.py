"""`qtk autobench`: run every test module of a project in its own pytest process, in parallel,
and report one verdict per module (issue #8).

discover.py finds modules and orders them longest-first; runner.py runs and polices the processes;
classify.py turns an exit code + JUnit XML into a status; junit.py reads and merges the reports;
pytest_plugin.py is loaded into each run so that a crash still names its test.
"""

from qtk.tools.autobench.discover import DEFAULT_PATTERNS, NoModulesFound, default_cache_file
from qtk.tools.autobench.junit import merged_tree, write_junit
from qtk.tools.autobench.results import OK_STATUSES, STATUSES, ModuleResult, SuiteReport
from qtk.tools.autobench.runner import AutobenchOptions, default_jobs, run_suite

__all__ = [
    "DEFAULT_PATTERNS", "NoModulesFound", "default_cache_file", "merged_tree", "write_junit",
    "OK_STATUSES", "STATUSES", "ModuleResult", "SuiteReport", "AutobenchOptions", "default_jobs",
    "run_suite",
]
