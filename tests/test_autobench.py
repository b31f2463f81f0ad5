"""qtk autobench on a throw-away suite with every way a test module can end.

The generated suites live under pytest's tmp_path in directories named `ab_generated_*`, never
under tests/, so an outer pytest (or an outer autobench) never collects them.
"""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from qtk.tools.autobench import discover, junit

MODULES = {
    "test_pass.py": """
        import pytest
        def test_one(): pass
        def test_two(): pass
        @pytest.mark.skip(reason="not today")
        def test_skipped(): pass
    """,
    "test_fail.py": """
        import pytest
        @pytest.fixture
        def broken_teardown():
            yield
            raise RuntimeError("teardown broke")
        def test_ok(): pass
        def test_bad(): assert 1 == 2, "one is not two"
        def test_bad_twice(broken_teardown): assert 0
    """,
    "test_import_error.py": """
        import no_such_module_for_autobench
        def test_never(): pass
    """,
    "test_hang.py": """
        import subprocess, sys, time
        from pathlib import Path
        def test_first(): pass
        def test_hang():
            # A grandchild in the same process group: the timeout must kill it too.
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
            Path({pidfile!r}).write_text(str(child.pid))
            time.sleep(120)
    """,
    "test_segv.py": """
        import ctypes
        def test_first(): pass
        def test_segv(): ctypes.string_at(0)
        def test_after(): pass
    """,
    "test_flaky.py": """
        from pathlib import Path
        COUNTER = Path({counter!r})
        def test_flaky():
            n = int(COUNTER.read_text()) if COUNTER.exists() else 0
            COUNTER.write_text(str(n + 1))
            assert n >= 1, "fails on the first attempt only"
    """,
    "test_all_skipped.py": """
        import pytest
        pytestmark = pytest.mark.skip(reason="whole module off")
        def test_a(): pass
        def test_b(): pass
    """,
    "sub/math_test.py": """
        def test_add(): assert 1 + 1 == 2
    """,
    "helpers.py": """
        def test_not_a_test_module(): assert False
    """,
}

EXPECTED = {  # module: (status, passed, failed, skipped)
    "test_pass.py": ("PASS", 2, 0, 1),
    "test_fail.py": ("FAIL", 1, 2, 0),
    "test_import_error.py": ("ERROR", 0, 1, 0),
    "test_hang.py": ("TIMEOUT", 1, 1, 0),
    "test_segv.py": ("CRASH", 1, 1, 0),
    "test_flaky.py": ("FLAKY", 1, 0, 0),
    "test_all_skipped.py": ("SKIP", 0, 0, 2),
    "sub/math_test.py": ("PASS", 1, 0, 0),
}


def write_suite(root: Path, modules: dict[str, str], **fmt: str) -> Path:
    suite = root / "ab_generated_suite"
    for name, body in modules.items():
        path = suite / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body).format(**fmt))
    return suite


def autobench(*args, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qtk", "autobench", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


@pytest.fixture(scope="module", params=[["--no-preload"], ["--preload", "ctypes"]], ids=["fresh", "preload"])
def full_run(tmp_path_factory, request):
    """One run over every kind of module; the tests below each check one aspect of it. Twice: a
    fresh interpreter per module, and pytest forked from the fork server (the default) with
    what it found to preload and a module named by --preload."""
    root = tmp_path_factory.mktemp("ab_generated_full")
    pidfile, counter = root / "grandchild.pid", root / "flaky.count"
    suite = write_suite(root, MODULES, pidfile=str(pidfile), counter=str(counter))
    preload = request.param
    # 6 s: a fresh pytest's own start-up passed 3 s on this shared 2-core machine at load ~20
    proc = autobench(suite, "-j", "2", "--timeout", "6", "--reruns", "1", "--json", root / "report.json",
                     "--junit-xml", root / "report.xml", *preload, cwd=root)
    report = json.loads((root / "report.json").read_text())
    return {"root": root, "suite": suite, "proc": proc, "report": report, "pidfile": pidfile,
            "modules": {m["module"]: m for m in report["modules"]}}


def test_every_status_and_count(full_run):
    modules = full_run["modules"]
    prefix = "ab_generated_suite/"
    got = {name.removeprefix(prefix): (m["status"], m["passed"], m["failed"], m["skipped"])
           for name, m in modules.items()}
    assert got == EXPECTED, full_run["proc"].stdout[-3000:]
    assert full_run["proc"].returncode == 1
    assert full_run["report"]["ok"] is False
    assert full_run["report"]["totals"]["by_status"]["PASS"] == 2


def test_crash_and_timeout_name_their_test_and_show_the_stack(full_run):
    m = full_run["modules"]
    segv, hang = m["ab_generated_suite/test_segv.py"], m["ab_generated_suite/test_hang.py"]
    assert segv["signal"] == "SIGSEGV" and segv["returncode"] == -signal.SIGSEGV
    assert segv["current_test"].endswith("test_segv.py::test_segv")
    assert "Segmentation fault" in segv["output"] and "in test_segv" in segv["output"]
    assert hang["current_test"].endswith("test_hang.py::test_hang")
    assert "timed out after 6 s" in hang["detail"]
    assert "in test_hang" in hang["output"], "faulthandler's stack dump of the hung test is missing"
    assert hang["duration_s"] >= 6


def test_timeout_kills_the_whole_process_group(full_run):
    grandchild = int(full_run["pidfile"].read_text())
    deadline = time.monotonic() + 5
    while pid_alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(grandchild)


def test_flaky_and_error_details(full_run):
    m = full_run["modules"]
    flaky, err = m["ab_generated_suite/test_flaky.py"], m["ab_generated_suite/test_import_error.py"]
    assert flaky["attempts"] == 2 and "fails on the first attempt only" in flaky["output"]
    assert "No module named 'no_such_module_for_autobench'" in err["detail"]
    assert err["attempts"] == 2  # an ERROR is rerun too, and stays ERROR
    assert m["ab_generated_suite/test_hang.py"]["attempts"] == 1  # a TIMEOUT is not rerun


def test_scoreboard_output(full_run):
    out = full_run["proc"].stdout
    lines = out.rstrip("\n").splitlines()
    assert lines[-1] == "7 passed, 5 failed, 3 skipped"
    assert re.search(r"test_fail\.py\s.*FAIL", out) and re.search(r"test_hang\.py\s.*TIMEOUT", out)
    # Full output for modules that did not pass, none for those that did.
    assert "ab_generated_suite/test_fail.py: FAIL (output)" in out and "one is not two" in out
    assert "test_pass.py: PASS" not in out and "math_test.py: PASS" not in out
    assert "generated xml file" not in out  # it would name a deleted temporary file
    assert "PASS" in full_run["proc"].stderr  # progress lines go to stderr


def test_junit_xml_is_one_valid_xunit2_testsuite_per_module(full_run):
    root = ET.parse(full_run["root"] / "report.xml").getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert sorted(s.get("name") for s in suites) == sorted(full_run["modules"])
    time_re = re.compile(r"^\d+(\.\d{1,3})?$")  # the schema's SUREFIRE_TIME
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for s in suites:
        for attr in ("name", "tests", "failures", "errors", "skipped"):
            assert s.get(attr) is not None, (s.get("name"), attr)
        assert time_re.match(s.get("time"))
        cases = s.findall("testcase")
        assert all(c.get("name") for c in cases)
        assert int(s.get("tests")) == len(cases)
        assert int(s.get("failures")) == sum(c.find("failure") is not None for c in cases)
        assert int(s.get("errors")) == sum(c.find("error") is not None for c in cases)
        assert int(s.get("skipped")) == sum(c.find("skipped") is not None for c in cases)
        assert {c.tag for c in s} <= {"properties", "testcase", "system-out", "system-err"}
        props = {p.get("name"): p.get("value") for p in s.find("properties")}
        assert props["qtk.autobench.status"] == full_run["modules"][s.get("name")]["status"]
        for key in totals:
            totals[key] += int(s.get(key))
    assert {k: int(root.get(k)) for k in totals} == totals
    by_name = {s.get("name"): s for s in suites}
    segv = by_name["ab_generated_suite/test_segv.py"]
    error = segv.find("testcase/error")
    assert error.get("type") == "CRASH" and "SIGSEGV" in error.get("message")
    crashed = [c.get("name") for c in segv.findall("testcase") if c.find("error") is not None]
    assert crashed == ["test_segv"]
    hang_cases = {c.get("name"): c for c in by_name["ab_generated_suite/test_hang.py"].findall("testcase")}
    assert hang_cases["test_first"].find("error") is None
    assert hang_cases["test_hang"].find("error").get("type") == "TIMEOUT"


def test_durations_are_cached_for_the_next_run(full_run):
    cache = json.loads((full_run["suite"] / ".pytest_cache" / discover.CACHE_NAME).read_text())
    assert set(cache["durations"]) == set(EXPECTED)
    assert cache["durations"]["test_hang.py"] >= 3


SLEEPER = """
import time
def test_sleep():
    start = time.time()
    time.sleep(1.5)
    with open({log!r}, "a") as f:
        f.write(f"{{start}} {{time.time()}}\\n")
"""


def test_a_freed_slot_is_refilled_at_once(tmp_path):
    """-j 2 over four modules runs them two at a time throughout: when the first pair ends
    together, both slots are refilled, so the second pair overlaps too (a scheduler that slept
    on a running module before refilling ran everything after the first pair one by one)."""
    log = tmp_path / "spans.txt"
    suite = write_suite(tmp_path, {f"test_s{i}.py": SLEEPER for i in range(4)}, log=str(log))
    proc = autobench(suite, "-j", "2", "--no-cache", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    spans = sorted(tuple(map(float, line.split())) for line in log.read_text().splitlines())
    assert len(spans) == 4
    for (s0, e0), (s1, e1) in (spans[:2], spans[2:]):
        assert s1 < e0, spans  # each pair ran at the same time
    assert spans[2][0] >= min(e for _, e in spans[:2]) - 0.1  # never more than two at once


COUNTED = """
import counted_import_for_autobench
def test_sees_the_module():
    assert counted_import_for_autobench.VALUE == 42
"""


@pytest.mark.parametrize("args,imports", [(["--no-preload"], 3), ([], 1),
                                          (["--no-preload", "--preload", "counted_import_for_autobench"], 1)],
                         ids=["no-preload", "default", "explicit-only"])
def test_preload_imports_once_and_forks_each_module(tmp_path, args, imports):
    """By default the fork server imports what several test modules import, once; every test
    module still gets it. --no-preload: each module's fresh interpreter imports it again;
    --preload M with it: only M is preloaded."""
    lib, log = tmp_path / "lib", tmp_path / "imports.txt"
    lib.mkdir()
    (lib / "counted_import_for_autobench.py").write_text(
        f"import os\nVALUE = 42\nwith open({str(log)!r}, 'a') as f:\n    f.write(f'{{os.getpid()}}\\n')\n")
    suite = write_suite(tmp_path, {f"test_c{i}.py": COUNTED for i in range(3)})
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(lib), os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable, "-m", "qtk", "autobench", str(suite), "-j", "2", "--no-cache", "--json", "-", *args]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["totals"]["passed"] == 3
    assert len(log.read_text().splitlines()) == imports
    assert ("counted_import_for_autobench" in report["preload"]["modules"]) == (imports == 1)
    if "--no-preload" in args:  # nothing else, not even pytest's plugins
        assert report["preload"]["modules"] == args[2:]


def test_preload_of_a_missing_module_is_a_usage_error(tmp_path):
    suite = write_suite(tmp_path, {"test_x.py": "def test_x(): pass\n"})
    proc = autobench(suite, "--preload", "no_such_module_for_autobench", cwd=tmp_path)
    assert proc.returncode == 2 and "no_such_module_for_autobench" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = autobench(suite, "--preload", "not a module", cwd=tmp_path)
    assert proc.returncode == 2 and "not a module name" in proc.stderr


def test_longest_first_order_from_cache(tmp_path):
    suite = tmp_path / "ab_generated_order"
    suite.mkdir()
    paths = {n: suite / f"test_{n}.py" for n in ("short", "long", "medium", "new")}
    for p in paths.values():
        p.write_text("def test_x(): pass\n")
    cache_file = tmp_path / "cache.json"
    cache_file.write_text(json.dumps({"version": 1, "durations": {
        "test_short.py": 0.1, "test_long.py": 9.0, "test_medium.py": 2.0}}))
    cache = discover.DurationCache(cache_file, suite)
    order = [p.stem for p in discover.longest_first(sorted(paths.values()), cache)]
    assert order == ["test_new", "test_long", "test_medium", "test_short"]  # never timed: first
    cache.update({paths["new"]: 0.5})
    assert cache.save()
    again = discover.DurationCache(cache_file, suite)
    assert again.get(paths["new"]) == 0.5 and again.get(paths["long"]) == 9.0
    cache_file.write_text("{not json")
    assert discover.DurationCache(cache_file, suite).durations == {}


def test_count_tests_merges_call_and_teardown_reports():
    suite = ET.fromstring(
        '<testsuite name="x" tests="4" failures="1" errors="1">'
        '<testcase classname="m" name="a"><failure message="f"/></testcase>'
        '<testcase classname="m" name="a"><error message="teardown"/></testcase>'
        '<testcase classname="m" name="b"/>'
        '<testcase classname="m" name="c"><skipped/></testcase></testsuite>')
    assert junit.count_tests(suite) == (1, 1, 1)


def test_read_events_survives_a_cut_off_line(tmp_path):
    events = tmp_path / "events"
    lines = [{"event": "start", "nodeid": "t.py::a"}, {"event": "report", "nodeid": "t.py::a", "when": "call",
             "outcome": "passed"}, {"event": "finish", "nodeid": "t.py::a"}, {"event": "start", "nodeid": "t.py::b"}]
    events.write_text("".join(json.dumps(e) + "\n" for e in lines) + '{"event": "rep')
    assert junit.read_events(events) == ({"t.py::a": "passed"}, "t.py::b")
    assert junit.nodeid_to_case("sub/t.py::TestX::test_y[1]") == ("sub.t.TestX", "test_y[1]")


HANG = """
    import os, time
    from pathlib import Path
    def test_hang():
        Path({started!r}).write_text(str(os.getpid()))
        time.sleep(120)
"""


def test_session_timeout_still_prints_the_scoreboard(tmp_path):
    # -j 1 and the hang is the largest file, so it runs first; the other module never starts.
    suite = write_suite(tmp_path, {"test_hang.py": textwrap.dedent(HANG) + "# padding\n" * 50,
                                   "test_quick.py": "def test_ok(): pass\n"}, started=str(tmp_path / "s"))
    proc = autobench(suite, "-j", "1", "--session-timeout", "2", "--json", "-", "--no-cache", cwd=tmp_path)
    assert proc.returncode == 1
    report = json.loads(proc.stdout)  # --json -: the JSON alone on stdout, the scoreboard on stderr
    assert report["session_timed_out"] is True
    status = {m["module"].split("/")[-1]: m["status"] for m in report["modules"]}
    assert status == {"test_hang.py": "TIMEOUT", "test_quick.py": "NOTRUN"}
    assert "stopped by the session timeout" in report["modules"][0]["detail"]
    assert proc.stderr.rstrip("\n").splitlines()[-1] == "0 passed, 2 failed"


@pytest.mark.parametrize("sig,preload", [(signal.SIGINT, None), (signal.SIGTERM, None), (signal.SIGINT, "json")],
                         ids=["ctrl-c", "sigterm", "ctrl-c-preload"])
def test_ctrl_c_prints_what_finished_and_kills_the_rest(tmp_path, sig, preload):
    started = tmp_path / "started"
    suite = write_suite(tmp_path, {"test_hang.py": HANG, "test_quick.py": "def test_ok(): pass\n"},
                        started=str(started))
    extra = ["--preload", preload] if preload else []
    proc = subprocess.Popen([sys.executable, "-m", "qtk", "autobench", str(suite), "-j", "2", "--no-cache", *extra],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    progress = ""
    deadline = time.monotonic() + 30
    while "test_quick.py" not in progress and time.monotonic() < deadline:
        progress += proc.stderr.readline()
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert re.search(r"test_quick\.py\s.*PASS", out) and re.search(r"test_hang\.py\s.*NOTRUN", out)
    assert "interrupted (Ctrl-C or SIGTERM)" in out
    assert out.rstrip("\n").splitlines()[-1] == "1 passed, 1 failed"
    hung = int(started.read_text())
    assert not pid_alive(hung)


def test_pattern_and_pytest_args_pass_through(tmp_path, cli):
    # -k also matches directory names, and tmp_path holds this test's name: pick words outside it
    suite = write_suite(tmp_path, {"check_alpha.py": "def test_keep(): pass\ndef test_drop(): pass\n",
                                   "test_ignored.py": "def test_c(): assert False\n"})
    result = cli("autobench", suite, "--pattern", "check_*.py", "--no-cache", "-q", "--json", "-",
                 "--", "-k", "keep")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [(m["module"].split("/")[-1], m["passed"]) for m in report["modules"]] == [("check_alpha.py", 1)]
    assert report["ok"] is True and report["totals"]["passed"] == 1


def test_usage_errors(tmp_path, cli):
    assert cli("autobench", tmp_path / "missing").exit_code == 2
    empty = tmp_path / "ab_generated_empty"
    empty.mkdir()
    result = cli("autobench", empty)
    assert result.exit_code == 5 and "no test modules matching" in result.stderr
    (empty / "test_x.py").write_text("def test_x(): pass\n")
    assert cli("autobench", empty, "--timeout", "0").exit_code == 2
    assert cli("autobench", empty / "notes.txt").exit_code == 2
    result = cli("autobench", empty, "--python", tmp_path / "no-such-python")
    assert result.exit_code == 2 and "--python" in result.stderr
    result = cli("autobench", empty, "--", "--junit-xml=x.xml")
    assert result.exit_code == 2 and "qtk autobench --junit-xml" in result.stderr

