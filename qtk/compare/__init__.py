"""Same-budget, multi-seed A/B comparison of model configurations (`qtk compare`): `runner`
trains every config for every seed round-robin in a resumable directory, `stats` gives Student-t
intervals and paired differences, `report` the summary and its tables, `plot` the curves."""
