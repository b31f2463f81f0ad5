"""qtk autobench's fork server by default (issue 18): what it preloads, what it must not, and
--split-slow. The generated suites live under pytest's tmp_path (see test_autobench.py)."""

import json
import os
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from test_autobench import autobench, write_suite


def _lib_env(tmp_path: Path, modules: dict[str, str]) -> dict[str, str]:
    """Importable helper modules in tmp_path/lib (outside the suite), and an env that finds them."""
    lib = tmp_path / "lib"
    lib.mkdir(exist_ok=True)
    for name, body in modules.items():
        (lib / f"{name}.py").write_text(textwrap.dedent(body))
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(lib), os.environ.get("PYTHONPATH")])))


def _run(suite: Path, cwd: Path, env: dict[str, str], *args) -> tuple[subprocess.CompletedProcess, dict]:
    proc = subprocess.run([sys.executable, "-m", "qtk", "autobench", str(suite), "-j", "2", "--json", "-", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, json.loads(proc.stdout)


ENV_READER = """
import os
SEEN = os.environ.get("AB_CONFTEST_VAR")
"""
ENV_TEST = """
import env_reader_for_autobench
def test_sees_the_conftest_variable():
    assert env_reader_for_autobench.SEEN == "set by conftest"
"""


@pytest.mark.parametrize("how", ["static", "hidden"])
def test_environment_set_by_conftest_reaches_imports_made_after_it(tmp_path, how):
    """A conftest sets a variable that a module shared by the tests reads at import. Preloading
    that module would hide the variable from it, so those test modules are not forked from the
    preload: seen in the conftest's source ("static"), or, when a helper hides the change from
    that reading ("hidden"), by the forked run itself, which stops and is rerun fresh; the next
    run knows it from the cache."""
    setter = ("import os\nos.environ['AB_CONFTEST_VAR'] = 'set by conftest'\n" if how == "static" else
              "import env_setter_for_autobench\nenv_setter_for_autobench.apply()\n")
    env = _lib_env(tmp_path, {"env_reader_for_autobench": ENV_READER, "env_setter_for_autobench": """
        import os
        def apply():
            os.environ.update(AB_CONFTEST_VAR="set by conftest")
    """})
    suite = write_suite(tmp_path, {"conftest.py": setter, **{f"test_e{i}.py": ENV_TEST for i in range(3)}})
    for run in (1, 2):
        proc, report = _run(suite, tmp_path, env)
        assert report["totals"] == {**report["totals"], "passed": 3, "failed": 0}
        preloaded = "env_reader_for_autobench" in report["preload"]["modules"]
        assert preloaded == (how == "hidden" and run == 1)  # before the first run showed the change
        rerun = "changed os.environ (AB_CONFTEST_VAR)" in proc.stderr
        assert rerun == (how == "hidden" and run == 1), proc.stderr
        # Run 2: the fresh runs showed that nothing the server now preloads was imported after the
        # change (the reader no longer is), so the modules are forked, and still see the variable.
        fresh, checked = report["preload"]["fresh"], report["preload"]["forked_env_checked"]
        assert (len(fresh), len(checked)) == ((3, 0) if run == 1 else (0, 3)), report["preload"]
        assert "run in a fresh interpreter" in proc.stderr or rerun or run == 2


ENV_LIB = """
import os
os.environ.setdefault("AB_LIB_VAR", "set by a library")
"""
READER = """
import os
SEEN = os.environ.get("AB_LIB_VAR")
"""


def test_a_module_changing_the_environment_is_forked_once_nothing_preloaded_comes_after(tmp_path):
    """A library sets a variable as it is imported (as threadpoolctl does); one test module
    imports it, another a second such library. Each runs fresh once; that run shows which modules came after the change. The next run forks it
    when the server preloads none of them (`late`), and keeps it fresh when the server preloads one
    that reads the variable (`reader`, shared by two other modules): forked, it would miss it."""
    env = _lib_env(tmp_path, {"env_lib_for_autobench": ENV_LIB, "env_lib2_for_autobench": ENV_LIB,
                              "reader_for_autobench": READER, "plain_for_autobench": "X = 1\n"})
    plain = "import plain_for_autobench, reader_for_autobench\ndef test_p(): pass\n"
    late = ("import os, plain_for_autobench, env_lib_for_autobench\n"
            "def test_late(): assert os.environ['AB_LIB_VAR'] == 'set by a library'\n")
    reads = ("import env_lib2_for_autobench, reader_for_autobench\n"
             "def test_reads(): assert reader_for_autobench.SEEN == 'set by a library'\n")
    suite = write_suite(tmp_path, {"test_p1.py": plain, "test_p2.py": plain, "test_late.py": late,
                                   "test_reads.py": reads})
    for run in (1, 2, 3):
        proc, report = _run(suite, tmp_path, env)
        assert report["totals"] == {**report["totals"], "passed": 4, "failed": 0}, proc.stdout
        assert "reader_for_autobench" in report["preload"]["modules"]
        fresh, checked = set(report["preload"]["fresh"]), report["preload"]["forked_env_checked"]
        names = {"ab_generated_suite/test_late.py", "ab_generated_suite/test_reads.py"}
        assert fresh == (names if run == 1 else {"ab_generated_suite/test_reads.py"}), report["preload"]
        assert checked == ([] if run == 1 else ["ab_generated_suite/test_late.py"])
        assert ("changed os.environ (AB_LIB_VAR)" in proc.stderr) == (run == 1)


ORDER_SHARED = """
import os, time
_log = os.environ["AB_ORDER_LOG"]
_until = time.monotonic() + 60  # what the test waits for, or the old order after a minute
while time.monotonic() < _until and "fresh" not in open(_log).read():
    time.sleep(0.02)
with open(_log, "a") as f:
    f.write("preloaded\\n")
"""


def test_a_fresh_interpreter_module_starts_while_the_server_imports(tmp_path):
    """A module that must run fresh does not need the fork server, so it does not wait for it:
    the shared module the server preloads finishes its import only after that module has run."""
    log = tmp_path / "order.txt"
    log.write_text("")
    env = dict(_lib_env(tmp_path, {"order_shared_for_autobench": ORDER_SHARED}), AB_ORDER_LOG=str(log))
    shared = "import order_shared_for_autobench\ndef test_s(): pass\n"
    fresh = ("import os\nos.environ['AB_ORDER_SET'] = '1'\n"
             "def test_f():\n    open(os.environ['AB_ORDER_LOG'], 'a').write('fresh\\n')\n")
    suite = write_suite(tmp_path, {"test_a.py": shared, "test_b.py": shared, "test_fresh.py": fresh})
    _, report = _run(suite, tmp_path, env, "--no-cache")
    assert report["totals"]["passed"] == 3 and "order_shared_for_autobench" in report["preload"]["modules"]
    assert list(report["preload"]["fresh"]) == ["ab_generated_suite/test_fresh.py"]
    assert log.read_text().splitlines() == ["fresh", "preloaded"]

STATEFUL = """
import stateful_for_autobench
def test_starts_pristine():
    stateful_for_autobench.SEEN.append(__name__)
    assert stateful_for_autobench.SEEN == [__name__]
"""


def test_state_leaked_into_a_preloaded_module_stays_in_its_test_module(tmp_path):
    env = _lib_env(tmp_path, {"stateful_for_autobench": "SEEN = []\n"})
    suite = write_suite(tmp_path, {f"test_s{i}.py": STATEFUL for i in range(4)})
    _, report = _run(suite, tmp_path, env, "--no-cache")
    assert "stateful_for_autobench" in report["preload"]["modules"]
    assert report["totals"]["passed"] == 4 and report["ok"]


THREADED = """
import os, threading, time
with open({log!r}, "a") as f:
    f.write(f"{{os.getpid()}}\\n")
threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
"""


def test_an_import_that_starts_a_thread_is_not_preloaded(tmp_path):
    """It is named in a notice; the modules that use it import it themselves, and still pass;
    the next run skips it without trying, and still names it."""
    log = tmp_path / "imports.txt"
    env = _lib_env(tmp_path, {"threaded_for_autobench": THREADED.format(log=str(log)),
                              "stateful_for_autobench": "SEEN = []\n"})
    body = "import threaded_for_autobench, stateful_for_autobench\ndef test_x(): pass\n"
    suite = write_suite(tmp_path, {f"test_t{i}.py": body for i in range(3)})
    for run in (1, 2):
        proc, report = _run(suite, tmp_path, env)
        assert report["totals"]["passed"] == 3
        assert "threaded_for_autobench" in report["preload"]["unsafe"]
        assert "stateful_for_autobench" in report["preload"]["modules"]
        assert "threaded_for_autobench" not in report["preload"]["modules"]
        assert "not preloading threaded_for_autobench: its import started 1 thread(s)" in proc.stderr
    # run 1: once in the server that found it unsafe, then once per test module; run 2: per module
    assert len(log.read_text().splitlines()) == 1 + 3 + 3


SLOW = """
import os
import pytest
@pytest.mark.parametrize("n", range(6))
def test_n(n):
    with open({log!r}, "a") as f:
        f.write(f"{{n}} {{os.getpid()}}\\n")
    assert n != 4, "four fails"
"""


def _learn(suite: Path, cache: Path, durations: dict[str, float], *flags: str) -> None:
    """One run that measures the suite (whether each module's tests could be split), then the
    durations the test wants the next run to plan with."""
    autobench(suite, "-j", "2", "--cache-file", cache, *flags, cwd=suite.parent)
    cache.write_text(json.dumps({**json.loads(cache.read_text()), "durations": durations}))


def test_split_slow_runs_a_dominating_module_in_chunks_and_reports_one_entry(tmp_path):
    log = tmp_path / "ran.txt"
    suite = write_suite(tmp_path, {"test_slow.py": SLOW, "test_quick.py": "def test_q(): pass\n"}, log=str(log))
    cache = tmp_path / "cache.json"
    _learn(suite, cache, {"test_slow.py": 30.0, "test_quick.py": 0.5})
    log.write_text("")
    proc = autobench(suite, "-j", "2", "--split-slow", "--cache-file", cache, "--json", tmp_path / "r.json",
                     "--junit-xml", tmp_path / "r.xml", cwd=tmp_path)
    report = json.loads((tmp_path / "r.json").read_text())
    slow = {m["module"].split("/")[-1]: m for m in report["modules"]}["test_slow.py"]
    assert (slow["status"], slow["passed"], slow["failed"], slow["skipped"]) == ("FAIL", 5, 1, 0), proc.stdout
    assert "four fails" in slow["output"] and "test_n[4]" in slow["detail"]
    ran = [line.split() for line in log.read_text().splitlines()]
    assert sorted(int(n) for n, _ in ran) == list(range(6))  # each test once
    assert len({pid for _, pid in ran}) == 2  # 2 chunks of 15 s bring the bound from 30 s to 15.25 s
    xml = ET.parse(tmp_path / "r.xml").getroot()
    cases = xml.findall("testsuite[@name='ab_generated_suite/test_slow.py']/testcase")
    assert sorted(c.get("name") for c in cases) == [f"test_n[{n}]" for n in range(6)]
    assert proc.returncode == 1 and proc.stdout.rstrip().splitlines()[-1] == "6 passed, 1 failed"
    again = json.loads(cache.read_text())["durations"]
    assert set(again) == {"test_slow.py", "test_quick.py"}  # one entry per module, chunks summed
    setups = json.loads(cache.read_text())["setups"]  # measured: start-up and collection, per module
    assert set(setups) == {"test_slow.py", "test_quick.py"} and all(0 < s < 60 for s in setups.values())


def test_split_counts_weigh_the_start_up_each_chunk_repeats():
    from qtk.tools.autobench import split

    slow, quick = Path("test_slow.py"), Path("test_quick.py")
    durations = {slow: 30.0, quick: 0.5}
    assert split.chunk_counts([slow, quick], durations, 2) == {slow: 2}
    assert split.chunk_counts([slow, quick], durations, 4) == {slow: 4}  # 7.5 s chunks, bound 7.6 s
    assert max(split.chunk_counts([slow, quick], durations, 3, {slow: 0.0}).values()) <= 3  # at most -j
    assert split.chunk_counts([slow, quick], durations, 2, {slow: 20.0}) == {slow: 2}  # 25 s < 30 s
    assert split.chunk_counts([slow, quick], durations, 2, {slow: 25.0}) == {}  # 27.5 s: not 10% better
    balanced = {slow: 30.0, quick: 29.0}  # two workers already finish together
    assert split.chunk_counts([slow, quick], balanced, 2) == {}
    assert split.chunk_seconds(30.0, 20.0, 2) == 25.0


SHARED = """
import os
import pytest
@pytest.fixture(scope="module")
def shared():
    with open({log!r}, "a") as f:
        f.write(f"setup {{os.getpid()}}\\n")
@pytest.mark.parametrize("n", range(4))
def test_m(shared, n):
    with open({log!r}, "a") as f:
        f.write(f"{{n}} {{os.getpid()}}\\n")
"""


def _pids(log: Path) -> tuple[set[str], list[str]]:
    lines = [line.split() for line in log.read_text().splitlines()]
    return {pid for _, pid in lines}, sorted(n for n, _ in lines if n != "setup")


def test_a_dominating_module_is_collected_once_and_dealt_to_chunks_by_default(tmp_path):
    """No flag: a module whose tests share no fixture wider than a function (as the last run of
    it found) is split (one collection, then forked chunks); one whose tests share a module-scoped
    fixture runs whole; --split-slow splits it anyway, each chunk setting the fixture up."""
    plain_log, shared_log = tmp_path / "plain.txt", tmp_path / "shared.txt"
    collect_log = tmp_path / "collected.txt"
    plain = SLOW.format(log=str(plain_log)).replace("assert n != 4", "assert True") + (
        f"\nwith open({str(collect_log)!r}, 'a') as f:\n    f.write(f'{{os.getpid()}}\\n')\n")
    xunit = "class TestX:\n    def setup_class(cls): pass\n    def test_a(self): pass\n    def test_b(self, tmp_path): pass\n"
    suite = write_suite(tmp_path, {"test_shared.py": SHARED, "test_quick.py": "def test_q(): pass\n",
                                   "test_xunit.py": xunit}, log=str(shared_log))
    (suite / "test_plain.py").write_text(plain)
    cache = tmp_path / "cache.json"
    for flags, shared_split in (((), False), (("--split-slow",), True)):
        _learn(suite, cache, {"test_plain.py": 30.0, "test_shared.py": 0.5, "test_quick.py": 0.5}, *flags)
        for log in (plain_log, shared_log, collect_log):
            log.write_text("")
        _, report = _run(suite, tmp_path, dict(os.environ), "--cache-file", str(cache), *flags)
        assert report["totals"] == {**report["totals"], "passed": 13, "failed": 0}
        pids, ran = _pids(plain_log)
        assert len(pids) == 2 and ran == [str(n) for n in range(6)]  # each test once, in 2 chunks
        assert len(collect_log.read_text().splitlines()) == 1  # collected (imported) once
        checks = json.loads(cache.read_text())["split_checks"]
        assert checks["test_plain.py"][2] == "" and checks["test_shared.py"][2] == "fixture shared is module-scoped"
        assert checks["test_xunit.py"][2].startswith("fixture _xunit_setup_class_fixture")  # setup_class counts
        assert checks["test_quick.py"][2] == "1 test(s)"
        _learn(suite, cache, {"test_plain.py": 0.5, "test_shared.py": 30.0, "test_quick.py": 0.5}, *flags)
        for log in (plain_log, shared_log):
            log.write_text("")
        _, report = _run(suite, tmp_path, dict(os.environ), "--cache-file", str(cache), *flags)
        assert report["totals"]["passed"] == 13
        pids, ran = _pids(shared_log)
        setups = [line for line in shared_log.read_text().splitlines() if line.startswith("setup")]
        assert ran == ["0", "1", "2", "3"] and (len(pids), len(setups)) == ((2, 2) if shared_split else (1, 1))


CHUNK_TROUBLE = """
import ctypes, os, subprocess, sys, time
from pathlib import Path
import pytest
@pytest.mark.parametrize("n", range(4))
def test_t(n):
    with open({log!r}, "a") as f:
        f.write(f"{{n}} {{os.getpid()}}\\n")
    if n == 1:
        ctypes.string_at(0)
    if n == 2:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        Path({pidfile!r}).write_text(str(child.pid))
        time.sleep(120)
"""


def test_a_chunk_that_crashes_or_hangs_is_judged_like_a_module(tmp_path):
    """Chunk 1 segfaults in test_t[1], chunk 0 hangs in test_t[2] with a grandchild: the timeout
    dumps the hanging chunk's stack and kills its group, grandchild included; the merged entry is
    CRASH (the worse of CRASH and TIMEOUT) and counts the test that passed and the two that did not."""
    from test_autobench import pid_alive

    log, pidfile = tmp_path / "ran.txt", tmp_path / "grandchild.pid"
    suite = write_suite(tmp_path, {"test_trouble.py": CHUNK_TROUBLE, "test_quick.py": "def test_q(): pass\n"},
                        log=str(log), pidfile=str(pidfile))
    cache = tmp_path / "cache.json"
    _learn(suite, cache, {"test_trouble.py": 30.0, "test_quick.py": 0.5}, "--timeout", "8")  # whole: test_t[1] crashes it
    log.write_text("")
    proc = autobench(suite, "-j", "2", "--timeout", "8", "--cache-file", cache, "--json", tmp_path / "r.json",
                     cwd=tmp_path)
    report = json.loads((tmp_path / "r.json").read_text())
    trouble = {m["module"].split("/")[-1]: m for m in report["modules"]}["test_trouble.py"]
    assert (trouble["status"], trouble["passed"], trouble["failed"]) == ("CRASH", 1, 2), proc.stdout
    assert "SIGSEGV" in trouble["detail"] and "timed out after 8 s while running" in trouble["detail"]
    assert "test_t[2]" in trouble["detail"] and "test_t[1]" in trouble["detail"]
    # faulthandler's dumps: the segfault's, and the hung chunk's on the runner's SIGABRT
    assert "Segmentation fault" in trouble["output"] and "Fatal Python error: Aborted" in trouble["output"]
    assert len({pid for _, pid in (line.split() for line in log.read_text().splitlines())}) == 2
    grandchild, deadline = int(pidfile.read_text()), time.monotonic() + 5
    while pid_alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(grandchild)
    assert proc.returncode == 1


def test_what_a_forked_run_imported_reaches_the_next_runs_preload(tmp_path):
    """A module imported inside the tests (no import line to read) is measured by the forked runs,
    whose event stream must be complete although they leave with os._exit, and preloaded next time."""
    env = _lib_env(tmp_path, {"hidden_import_for_autobench": "X = 1\n"})
    body = "def test_h():\n    import hidden_import_for_autobench\n    assert hidden_import_for_autobench.X == 1\n"
    suite = write_suite(tmp_path, {"test_h1.py": body, "test_h2.py": body})
    cache = tmp_path / "cache.json"
    for run in (1, 2):
        _, report = _run(suite, tmp_path, env, "--cache-file", str(cache))
        assert report["totals"]["passed"] == 2
        assert ("hidden_import_for_autobench" in report["preload"]["modules"]) == (run == 2)
    assert all("hidden_import_for_autobench" in names for names in json.loads(cache.read_text())["imports"].values())
