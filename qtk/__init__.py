"""qtk: a toolkit for building, training, measuring and shipping small experimental LMs."""

import os

__version__ = "0.1.0"

# OpenMP wait policy, chosen before torch loads libgomp (it reads the environment once).
# Threads that spin while waiting win on a quiet machine (qtk train --size small on a quiet 2-core
# machine: ACTIVE 1,920-2,010 tokens/s vs PASSIVE 1,270-1,570) but make every small op cost a
# scheduler slice when other processes hold the cores (busy 2-core machine: RMSNorm 31 ms -> 0.2
# ms with PASSIVE; a training step about 2x faster with PASSIVE than ACTIVE at load 24, see
# bench/RESULTS.md). So: PASSIVE when the machine is already busy when qtk starts, ACTIVE when it
# is quiet. OMP_WAIT_POLICY or GOMP_SPINCOUNT set by the user win; QTK_OMP_POLICY = auto |
# passive | active | keep (keep = libgomp's own default) chooses explicitly.
QUIET_LOAD_PER_CORE = 0.5  # 1-minute load average per usable core below which the machine is quiet


def _omp_wait_policy(env: dict) -> str | None:
    """The OMP_WAIT_POLICY qtk sets in `env` (None: left alone)."""
    if "OMP_WAIT_POLICY" in env or "GOMP_SPINCOUNT" in env:
        return None
    choice = env.get("QTK_OMP_POLICY", "auto").lower()
    if choice == "keep":
        return None
    if choice not in ("passive", "active"):
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float(cores)
        choice = "active" if load < QUIET_LOAD_PER_CORE * cores else "passive"
    env["OMP_WAIT_POLICY"] = choice.upper()
    return env["OMP_WAIT_POLICY"]


_omp_wait_policy(os.environ)
