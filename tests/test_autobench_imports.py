"""imports.py: what a suite imports, read without running it, and which modules to preload."""

import textwrap
from pathlib import Path

from qtk.tools.autobench import imports


def write(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path


def test_scan_reads_top_level_imports_and_stops_at_an_environment_change(tmp_path):
    pkg = tmp_path / "pkg"
    write(pkg / "__init__.py", "")
    write(pkg / "tests" / "__init__.py", "")
    module = write(pkg / "tests" / "test_x.py", """
        import os, numpy.linalg
        from scipy import sparse
        from . import helpers
        from ..core import thing
        try:
            import optional_dep
        except ImportError:
            optional_dep = None
        def test_a():
            import lazy_inside_a_test
        os.environ["X"] = "1"
        import reads_x_at_import
    """)
    names, changed = imports.scan_file(module)
    assert names == ["os", "numpy.linalg", "scipy", "pkg.tests", "pkg.core", "optional_dep"]
    assert changed


def test_conftest_hooks_that_change_the_environment_count(tmp_path):
    conftest = write(tmp_path / "conftest.py", """
        import pytest
        def pytest_configure(config):
            import os
            os.environ.setdefault("Y", "1")
    """)
    assert imports.scan_file(conftest) == (["pytest"], False)  # as a test module: top level only
    assert imports.scan_file(conftest, whole_file_env=True) == ([], True)
    reader = write(tmp_path / "reader.py", "import os\nX = os.environ['X']\nos.environ.get('Y')\n")
    assert imports.scan_file(reader, whole_file_env=True) == (["os"], False)


def test_shared_needs_two_forked_modules_and_skips_test_modules(tmp_path):
    suite = tmp_path / "suite"
    a = write(suite / "test_a.py", "import numpy, only_in_a, test_b, mypkg.tests.helpers\n")
    b = write(suite / "test_b.py", "import numpy, mypkg.tests.helpers\nimport conftest\n")
    c = write(suite / "sub" / "test_c.py", "import numpy\n")
    write(suite / "sub" / "conftest.py", "import os\nos.environ['Z'] = '1'\nimport late\n")
    found = imports.SuiteImports([a, b, c], suite, ("test_*.py",), {a: ["measured_dep"], b: ["measured_dep"]})
    assert found.shared() == ["measured_dep", "numpy"]
    assert set(found.plain) == {c} and "changes os.environ" in found.plain[c]
    assert found.shared(fresh={b}) == []
    assert imports.sys_path_dirs([a, c]) == sorted([str(suite), str(suite / "sub")])


def test_scans_are_remembered_by_mtime_and_size(tmp_path):
    module = write(tmp_path / "test_m.py", "import numpy\n")
    scans = {}
    assert imports.cached_scan(module, False, scans, "test_m.py") == (["numpy"], False)
    scans["test_m.py"][3] = ["remembered"]  # same file, same stamp: the file is not parsed again
    assert imports.cached_scan(module, False, scans, "test_m.py") == (["remembered"], False)
    assert imports.cached_scan(module, True, scans, "test_m.py") == (["numpy"], False)  # asked differently
    write(module, "import os\nos.environ['A'] = '1'\nimport scipy\n")  # another size: parsed again
    assert imports.cached_scan(module, False, scans, "test_m.py") == (["os"], True)
    assert imports.SuiteImports([module], tmp_path, ("test_*.py",), {}, scans).plain == {
        module: "changes os.environ at import"}
