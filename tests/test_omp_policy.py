"""The OpenMP wait policy `import qtk` picks: the user's settings win; else by the load average."""

import os
import subprocess
import sys

import qtk


def test_user_settings_win():
    assert qtk._omp_wait_policy({"OMP_WAIT_POLICY": "ACTIVE"}) is None
    assert qtk._omp_wait_policy({"GOMP_SPINCOUNT": "10000"}) is None
    assert qtk._omp_wait_policy({"QTK_OMP_POLICY": "keep"}) is None
    env = {"QTK_OMP_POLICY": "active"}
    assert qtk._omp_wait_policy(env) == "ACTIVE" and env["OMP_WAIT_POLICY"] == "ACTIVE"


def test_auto_follows_the_load(monkeypatch):
    cores = len(os.sched_getaffinity(0))
    monkeypatch.setattr(os, "getloadavg", lambda: (0.1 * cores, 0.0, 0.0))
    assert qtk._omp_wait_policy({}) == "ACTIVE"
    monkeypatch.setattr(os, "getloadavg", lambda: (1.5 * cores, 0.0, 0.0))
    assert qtk._omp_wait_policy({}) == "PASSIVE"
    assert qtk._omp_wait_policy({"QTK_OMP_POLICY": "auto"}) == "PASSIVE"


def test_set_before_torch_loads():
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env["QTK_OMP_POLICY"] = "passive"
    out = subprocess.run([sys.executable, "-c", "import qtk, os, sys; print(os.environ['OMP_WAIT_POLICY'], "
                          "'torch' in sys.modules)"], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["PASSIVE", "False"], out.stderr
