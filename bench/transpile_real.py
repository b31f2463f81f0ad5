"""transpile-paper on the real-style corpus (tests/data/transpile_real): each block is transpiled,
run on its inputs and checked against the expected answers; prints the score by failure class
(macros, phrases, loops, headers, indexing) as a markdown table, then each failing block and why.

Usage: python bench/transpile_real.py [--corpus DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # score this checkout's translator, not another installed copy

from qtk.tools.transpile_paper.scoring import score  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "transpile_real"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--json", action="store_true", help="print the outcomes as JSON")
    args = ap.parse_args()
    report = score(args.corpus)
    if args.json:
        rows = [{"file": o.case.file, "class": o.case.klass, "status": o.status, "detail": o.detail}
                for o in report.outcomes]
        print(json.dumps({"rate": report.rate, "by_class": report.by_class(), "outcomes": rows}, indent=1))
        return 0
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"{report.correct}/{len(report.outcomes)} blocks return the right answers ({report.rate:.0%})\n")
    print(report.markdown())
    for o in report.outcomes:
        if o.status != "ok":
            print(f"- {o.case.file} [{o.case.klass}] {o.status}: {o.detail[:300]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
