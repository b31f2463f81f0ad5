"""The one loader between kernels/*.cu and CuPy, in the manner of CuPy's own examples: a kernel
file is read as text, the `#define`s its header comment names are put in front of it, and the
result is compiled by NVRTC into a `cupy.RawModule` once per (device, file, macros) and kept.

Launches go on torch's current CUDA stream (CuPy's view of it), so kernels
order with the torch ops around them without synchronising; tensors are passed zero-copy as raw
device pointers (`data_ptr()`), which also covers bfloat16, a dtype CuPy's arrays lack.

`probe()` says whether this backend can run here at all. Nothing in this module imports cupy or
torch at import time: both are imported by the functions that need them.
"""

from __future__ import annotations

import importlib.util
import re
from typing import Any, Mapping, Sequence

from qtk.errors import QtkError
from qtk.paths import shipped_dir

NVRTC_OPTIONS = ("--std=c++17",)  # CuPy adds the device's -arch itself
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_modules: dict[tuple, Any] = {}


def kernel_source(name: str) -> str:
    """The text of kernels/NAME.cu."""
    path = shipped_dir("kernels") / f"{name}.cu"
    if not path.is_file():
        raise QtkError(f"kernel source {path} is missing from this installation")
    return path.read_text(encoding="utf-8")


def with_macros(source: str, macros: Mapping[str, int | str], filename: str = "kernel.cu") -> str:
    """`source` behind one `#define NAME VALUE` line per macro (sorted, so equal macros give equal
    text and hit CuPy's compile cache); `#line` keeps compiler messages on the file's own lines."""
    lines = []
    for key, value in sorted(macros.items()):
        if not _IDENT.match(key):
            raise ValueError(f"macro name {key!r} is not a C identifier")
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError(f"macro {key}: value {value!r} must be an int or a string")
        lines.append(f"#define {key} {value}")
    return "\n".join(lines) + f'\n#line 1 "{filename}"\n' + source


def module(name: str, macros: Mapping[str, int | str], device: int) -> Any:
    """The compiled `cupy.RawModule` of kernels/NAME.cu with `macros` on CUDA device `device`."""
    import cupy

    key = (name, device, tuple(sorted(macros.items())))
    mod = _modules.get(key)
    if mod is None:
        code = with_macros(kernel_source(name), macros, f"{name}.cu")
        with cupy.cuda.Device(device):
            mod = cupy.RawModule(code=code, options=NVRTC_OPTIONS)
            mod.compile()  # now, on this device, rather than at the first launch
        _modules[key] = mod
    return mod


def _arg(value: Any) -> Any:
    """A launch argument as CuPy passes it: tensors as device pointers, ints as int32, floats as
    float32 (CuPy would make Python floats 8-byte doubles); numpy scalars as they are."""
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor):
        return np.uint64(value.data_ptr())
    if isinstance(value, np.generic):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"cannot pass {type(value).__name__} to a kernel")
    if isinstance(value, float):
        return np.float32(value)
    if not -(2**31) <= value < 2**31:
        raise ValueError(f"kernel argument {value} does not fit int32 (pass np.int64 for a long long)")
    return np.int32(value)


def launch(name: str, macros: Mapping[str, int | str], kernel: str, grid: Sequence[int], block: Sequence[int],
           args: Sequence[Any], device: int) -> None:
    """Run `kernel` of kernels/NAME.cu on torch's current stream of CUDA device `device`."""
    import cupy
    import torch

    fn = module(name, macros, device).get_function(kernel)
    with cupy.cuda.Device(device), _stream(cupy, torch.cuda.current_stream(device)):
        fn(tuple(grid), tuple(block), tuple(_arg(a) for a in args))


_streams: dict[int, Any] = {}


def _stream(cupy: Any, torch_stream: Any) -> Any:
    """The CuPy view of a torch CUDA stream (kept per stream handle): `Stream.from_external`
    (the CUDA stream protocol, CuPy >= 14, which deprecates ExternalStream), else ExternalStream."""
    handle = torch_stream.cuda_stream
    if handle not in _streams:
        if hasattr(cupy.cuda.Stream, "from_external") and hasattr(torch_stream, "__cuda_stream__"):
            _streams[handle] = cupy.cuda.Stream.from_external(torch_stream)
        else:
            _streams[handle] = cupy.cuda.ExternalStream(handle)
    return _streams[handle]


def probe() -> str | None:
    """None when CuPy kernels can run here, else the reason they cannot (one line)."""
    if importlib.util.find_spec("cupy") is None:
        return "CuPy is not installed"
    import torch

    if torch.version.cuda is None:
        return f"torch {torch.__version__} is built without CUDA"
    if not torch.cuda.is_available():
        return "torch sees no CUDA device"
    try:
        import cupy

        if not cupy.is_available():
            return "CuPy sees no CUDA device"
        return _probe_kernel(cupy, torch)
    except Exception as e:  # a CuPy built for another CUDA, a missing NVRTC, a driver too old...
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}".rstrip(": ")


def _probe_kernel(cupy: Any, torch: Any) -> str | None:
    """Compile and run a one-line kernel through the same path as the real ones."""
    code = 'extern "C" __global__ void qtk_probe(int* x) { x[threadIdx.x] = 41 + threadIdx.x; }'
    x = torch.zeros(2, dtype=torch.int32, device="cuda")
    fn = cupy.RawModule(code=code, options=NVRTC_OPTIONS).get_function("qtk_probe")
    with _stream(cupy, torch.cuda.current_stream()):
        fn((1,), (2,), (_arg(x),))
    got = x.tolist()
    return None if got == [41, 42] else f"the probe kernel wrote {got}, not [41, 42]"


def version_info() -> str:
    """'CuPy 14.2.0, CUDA 13.0, NVIDIA H100 80GB HBM3' for the current device (backend is usable)."""
    import cupy
    import torch

    runtime = cupy.cuda.runtime.runtimeGetVersion()
    return (f"CuPy {cupy.__version__}, CUDA {runtime // 1000}.{runtime % 1000 // 10}, "
            f"{torch.cuda.get_device_name()}")
