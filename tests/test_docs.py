import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_completions_and_man_pages_are_current():
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_docs.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, f"run `python scripts/gen_docs.py`:\n{r.stdout}{r.stderr}"


def test_every_command_has_a_man_page_and_readme_example():
    from qtk.cli import COMMANDS

    readme = (ROOT / "README.md").read_text()
    for name in COMMANDS:
        assert (ROOT / "man" / f"qtk-{name}.1").is_file()
        assert f"qtk {name}" in readme, f"README has no example of qtk {name}"
