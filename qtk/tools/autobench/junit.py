"""JUnit XML in and out: read each module's own pytest report, rebuild what a crash lost, merge.

Every module runs with `--junit-xml` and `-o junit_family=xunit2`, so its tests arrive exactly as
pytest reports them. pytest writes that file only at the end of the session, so for a module that
crashed or hung, the testsuite is rebuilt from the event stream of `pytest_plugin.py` plus one
error testcase naming the test that was running. The merged file is one `<testsuites>` with one
`<testsuite>` per module, with the attributes the xunit2 schema (Jenkins junit-10.xsd, the one
pytest validates against) requires, and autobench's verdict in each suite's `<properties>`.
"""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from qtk.paths import atomic_write
from qtk.tools.autobench.results import ModuleResult, SuiteReport

# Characters XML 1.0 cannot hold (NUL, most C0 controls, e.g. from a crashing extension's output).
_XML_ILLEGAL = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_MAX_BODY = 64_000  # characters of output kept in a synthesized error (the tail holds the crash)


def clean_text(text: str) -> str:
    return _XML_ILLEGAL.sub("", _ANSI.sub("", text))


def read_module_xml(path: Path) -> ET.Element | None:
    """The <testsuite> pytest wrote, or None when the file is missing or cut short."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    return root if root.tag == "testsuite" else root.find("testsuite")


def count_tests(suite: ET.Element) -> tuple[int, int, int]:
    """(passed, failed, skipped), one verdict per test: pytest writes a second <testcase> for a
    test that fails in call and again in teardown, so testcases are merged by (classname, name)."""
    rank = {"passed": 0, "skipped": 1, "failed": 2}
    verdict: dict[tuple[str, str], str] = {}
    for case in suite.iter("testcase"):
        key = (case.get("classname", ""), case.get("name", ""))
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        elif case.find("skipped") is not None:
            outcome = "skipped"
        else:
            outcome = "passed"
        if rank[outcome] >= rank[verdict.get(key, "passed")]:
            verdict[key] = outcome
    outcomes = list(verdict.values())
    return outcomes.count("passed"), outcomes.count("failed"), outcomes.count("skipped")


def read_events(path: Path) -> tuple[dict[str, str], str | None]:
    """Finished tests' outcomes (nodeid -> passed/failed/skipped) and the test still running."""
    outcomes: dict[str, str] = {}
    running: str | None = None
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return outcomes, None
    phases: dict[str, list[str]] = {}
    for line in lines:
        try:
            ev = json.loads(line)
        except ValueError:
            continue  # the last line may be cut off by the kill
        nodeid = ev.get("nodeid", "")
        if ev.get("event") == "start":
            running, phases[nodeid] = nodeid, []
        elif ev.get("event") == "report":
            phases.setdefault(nodeid, []).append(ev.get("outcome", ""))
        elif ev.get("event") == "finish":
            seen = phases.get(nodeid, [])
            outcomes[nodeid] = "failed" if "failed" in seen else "skipped" if "skipped" in seen else "passed"
            running = None if running == nodeid else running
    return outcomes, running


def nodeid_to_case(nodeid: str) -> tuple[str, str]:
    """(classname, name) as pytest's junitxml mangles a node id: `a/test_x.py::T::t` -> `a.test_x.T`, `t`."""
    parts = nodeid.split("::")
    parts[0] = parts[0].removesuffix(".py").replace("/", ".")
    if len(parts) == 1:
        return "", parts[0]
    return ".".join(parts[:-1]), parts[-1]


def rebuild_suite(result: ModuleResult, events: dict[str, str], running: str | None,
                  pytest_suite: ET.Element | None) -> ET.Element:
    """A <testsuite> for a module that crashed, timed out or never ran: the tests that finished
    (from pytest's XML if it got written, else from the event stream) and one error testcase."""
    suite = ET.Element("testsuite", name=result.module)
    if pytest_suite is not None:
        suite.extend(pytest_suite.findall("testcase"))
    else:
        for nodeid, outcome in events.items():
            classname, name = nodeid_to_case(nodeid)
            case = ET.SubElement(suite, "testcase", classname=classname, name=name, time="0.000")
            if outcome == "failed":
                ET.SubElement(case, "failure", message="failed (details in the module's output)")
            elif outcome == "skipped":
                ET.SubElement(case, "skipped", type="pytest.skip", message="skipped")
    if running:
        classname, name = nodeid_to_case(running)
    else:
        classname = result.module.removesuffix(".py").replace("\\", "/").replace("/", ".")
        name = f"<{result.status.lower()}>"
    case = ET.SubElement(suite, "testcase", classname=classname, name=name,
                         time=f"{result.duration_s:.3f}")
    err = ET.SubElement(case, "error", type=result.status, message=clean_text(result.detail))
    err.text = clean_text(result.output[-_MAX_BODY:])
    return suite


def _finish_suite(suite: ET.Element, result: ModuleResult) -> ET.Element:
    """A copy named after the module, its counts recomputed, autobench's verdict in <properties>."""
    suite = copy.deepcopy(suite)  # the result keeps pytest's suite as it was: merging twice is safe
    suite.set("name", result.module)
    suite.set("file", result.module)
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(c.find("failure") is not None for c in cases)))
    suite.set("errors", str(sum(c.find("error") is not None for c in cases)))
    suite.set("skipped", str(sum(c.find("skipped") is not None for c in cases)))
    suite.set("time", f"{result.duration_s:.3f}")
    props = suite.find("properties")
    if props is None:
        props = ET.Element("properties")
        suite.insert(0, props)
    facts = {"status": result.status, "attempts": str(result.attempts)}
    if result.detail:
        facts["detail"] = clean_text(result.detail)
    for key, value in facts.items():
        ET.SubElement(props, "property", name=f"qtk.autobench.{key}", value=value)
    return suite


def merged_tree(report: SuiteReport) -> ET.ElementTree:
    root = ET.Element("testsuites", name="qtk autobench")
    totals = dict.fromkeys(("tests", "failures", "errors"), 0)
    for result in report.results:
        suite = result.junit
        if suite is None:  # NOTRUN, or a module whose report could not be read
            suite = rebuild_suite(result, {}, None, None)
        suite = _finish_suite(suite, result)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
        root.append(suite)
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{report.wall_s:.3f}")
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(report: SuiteReport, path: Path) -> None:
    """The merged xunit2 report; written to a temporary name first so a reader never sees half."""
    atomic_write(path, lambda tmp: merged_tree(report).write(tmp, encoding="utf-8", xml_declaration=True))

