"""qtk: a toolkit for building, training, measuring and shipping small experimental LMs."""

import os

__version__ = "0.1.0"

# OpenMP threads that spin while waiting make every small op cost a scheduler slice when another
# process holds a core (measured on a busy 2-core machine: RMSNorm 31 ms -> 0.2 ms, a 1024^2
# matmul 33 -> 20 ms with PASSIVE). It must be set before torch loads libgomp; users can override.
if os.environ.get("QTK_OMP_POLICY", "auto") != "keep":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
