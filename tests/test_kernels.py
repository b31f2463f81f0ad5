"""The CuPy kernels (kernels/*.cu) and their loader, against the torch references, in three layers
so that a machine without a GPU still checks most of it:

- CPU: the loader (source, macro injection, the backend choice and its fallback), the dK/dV work
  list, and every kernel compiled to PTX for sm_80 and sm_90 in each dtype variant by nvcc
  (skipped without nvcc) and by NVRTC as CuPy compiles it (skipped without libnvrtc);
- CPU emulation: the float32 kernels built with g++ over tests/cuda_cpu_emu.h (a std::thread per
  CUDA thread, AddressSanitizer on) and run through the real Python wrappers, whose launches are
  redirected to the emulator; compared with the references (skipped without g++);
- GPU (marked gpu, skipped without CUDA and CuPy): the kernels through the facades on fresh random
  inputs: forward and gradients within 1e-5 (float32) and 1e-2 (bfloat16) relative error of a
  float64 reference, hashing bit-exact.
"""

import ctypes
import ctypes.util
import glob
import math
import os
import shutil
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from qtk import ops
from qtk.errors import QtkError, UsageError
from qtk.ops import cupy_kernels, cupy_loader
from qtk.ops.hashing import ngram_hash_ref, simhash_ref
from qtk.ops.sparse_attention import selected_attention_ref

HERE = Path(__file__).resolve().parent
KERNELS = sorted(Path(p).stem for p in glob.glob(str(cupy_loader.shipped_dir("kernels") / "*.cu")))
NVCC = shutil.which("nvcc") or ("/usr/local/bin/nvcc" if os.access("/usr/local/bin/nvcc", os.X_OK) else None)
GXX = shutil.which("g++")


def rel_err(got: torch.Tensor, want: torch.Tensor) -> float:
    """max |got - want| / max |want|."""
    got, want = got.double().cpu(), want.double().cpu()
    return ((got - want).abs().max() / want.abs().max().clamp_min(1e-30)).item()


@pytest.fixture
def fresh_backend(monkeypatch):
    """Each test chooses the backend anew and leaves the default behind."""
    monkeypatch.delenv("QTK_OPS", raising=False)
    ops.set_backend(None)
    yield
    ops.set_backend(None)


# ---------------------------------------------------------------- loader and backend choice
def test_macros_go_in_front_of_the_source_sorted():
    src = cupy_loader.with_macros("int x = B;\n", {"B": 2, "A": "float"}, "f.cu")
    assert src.splitlines() == ["#define A float", "#define B 2", '#line 1 "f.cu"', "int x = B;"]
    for bad in ({"2X": 1}, {"A B": 1}, {"X": 1.5}, {"X": True}):
        with pytest.raises(ValueError):
            cupy_loader.with_macros("", bad)


def test_kernel_sources_are_read_and_name_their_macros():
    assert KERNELS == ["hashing", "selected_attention"]
    att = cupy_loader.kernel_source("selected_attention")
    header = att.split("#if", 1)[0]
    for macro in cupy_kernels.attention_macros(torch.bfloat16, 64, 8):
        assert macro in header, f"selected_attention.cu's header does not name {macro}"
    assert "Launch shapes" in header and "sel_attn_bwd_dkv" in header
    header = cupy_loader.kernel_source("hashing").split("#if", 1)[0]
    for macro in ("ELEM_KIND", *cupy_kernels.SIMHASH_MACROS):
        assert macro in header, f"hashing.cu's header does not name {macro}"
    with pytest.raises(QtkError, match="missing"):
        cupy_loader.kernel_source("no_such_kernel")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback on a machine without CUDA")
def test_backend_falls_back_to_torch_and_forcing_cupy_fails_clearly(fresh_backend, monkeypatch):
    assert ops.backend() == "torch"
    assert ops.describe().startswith("torch (chosen by default")  # torch until the kernels pass on a GPU
    monkeypatch.setenv("QTK_OPS", "auto")
    ops.set_backend(None)
    assert ops.describe().startswith("torch (cupy unavailable: ")
    monkeypatch.delenv("QTK_OPS")
    ops.set_backend(None)
    assert cupy_loader.probe() is not None
    with pytest.raises(UsageError, match="'cupy' was requested .set_backend. but cannot run here: "):
        ops.set_backend("cupy")
    assert ops.backend() == "torch"  # the failed request changed nothing
    q = torch.randn(1, 1, 4, 8)
    idx = torch.zeros(1, 1, 4, 1, dtype=torch.long)
    monkeypatch.setenv("QTK_OPS", "cupy")
    ops.set_backend(None)
    with pytest.raises(UsageError, match="requested .QTK_OPS."):  # even for CPU tensors
        ops.selected_attention(q, q, q, idx, 4)
    assert "unusable" in ops.describe()
    monkeypatch.setenv("QTK_OPS", "torch")
    ops.set_backend(None)
    assert ops.describe() == "torch (chosen by QTK_OPS)"
    assert torch.equal(ops.selected_attention(q, q, q, idx, 4), selected_attention_ref(q, q, q, idx, 4))
    monkeypatch.setenv("QTK_OPS", "triton")
    ops.set_backend(None)
    with pytest.raises(UsageError, match="QTK_OPS='triton' is not an ops backend"):
        ops.backend()


def test_cpu_tensors_take_the_reference_without_probing(fresh_backend, monkeypatch):
    monkeypatch.setattr(cupy_loader, "probe", lambda: pytest.fail("probed for a CPU tensor"))
    assert ops.impl("ngram_hash", torch.device("cpu")).__name__ == "ngram_hash_ref"


def test_version_reports_the_ops_backend(cli):
    r = cli("--version")
    assert r.exit_code == 0 and "ops backend: " in r.stdout
    if not torch.cuda.is_available():
        assert "ops backend: torch (chosen by default" in r.stdout


def test_help_imports_neither_torch_nor_cupy():
    code = ("import sys\nfrom qtk.cli import app\ntry:\n    app(['--help'], prog_name='qtk')\nexcept SystemExit:\n"
            "    pass\nassert not {'torch', 'cupy'} & set(sys.modules), 'torch or cupy imported'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_cupy_wrappers_hand_cpu_tensors_to_the_references():
    q, k, v = torch.randn(1, 2, 6, 8), torch.randn(1, 1, 6, 8), torch.randn(1, 1, 6, 8)
    idx = torch.tensor([0, 1, 1, 0, 2, -1]).view(1, 1, 3, 2)
    with pytest.warns(UserWarning, match="torch reference"):
        got = cupy_kernels.selected_attention_cupy(q, k, v, idx, 2)
    assert torch.equal(got, selected_attention_ref(q, k, v, idx, 2))
    ids = torch.randint(0, 100, (2, 9))
    with pytest.warns(UserWarning, match="torch reference"):
        got = cupy_kernels.ngram_hash_cupy(ids, (2, 3), 1, [7, 11], [1, 2])
    assert torch.equal(got, ngram_hash_ref(ids, (2, 3), 1, [7, 11], [1, 2]))


def test_dkv_work_items_invert_the_selection():
    g = torch.Generator().manual_seed(0)
    B, Hkv, Qb, n, n_blocks = 2, 3, 40, 4, 9
    idx = torch.rand(B, Hkv, Qb, n_blocks, generator=g).argsort(-1)[..., :n]
    idx[torch.rand(B, Hkv, Qb, n, generator=g) < 0.2] = -1
    kid, start, count, units = cupy_kernels.dkv_work_items(idx, n_blocks, chunk=7)
    assert all(t.dtype == torch.int32 for t in (kid, start, count, units))
    assert (count >= 1).all() and (count <= 7).all()
    seen = {}
    for key, s, c in zip(kid.tolist(), start.tolist(), count.tolist()):
        seen.setdefault(key, []).extend(units[s:s + c].tolist())
    for b in range(B):
        for h in range(Hkv):
            for blk in range(n_blocks):
                want = sorted(u for u in range(Qb) if blk in idx[b, h, u].tolist())
                assert sorted(seen.get((b * Hkv + h) * n_blocks + blk, [])) == want


# ---------------------------------------------------------------- compilation
def _attention_variants():
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        for head_dim, rows in ((64, 8), (128, 16)):  # the second has the largest tiles
            yield cupy_kernels.attention_macros(dtype, head_dim, rows)


def _compile_jobs():
    jobs = [("selected_attention", m) for m in _attention_variants()]
    jobs += [("hashing", {"ELEM_KIND": e, **cupy_kernels.SIMHASH_MACROS}) for e in (0, 1, 2)]
    return jobs


@pytest.mark.skipif(NVCC is None, reason="needs nvcc")
def test_every_kernel_compiles_to_ptx_for_sm80_and_sm90(tmp_path):
    """nvcc, one run per kernel file x macro variant x architecture (in parallel: nvcc mostly waits)."""
    def compile_one(job):
        (name, macros), arch = job
        src = tmp_path / f"{name}_{abs(hash(tuple(sorted(macros.items()))))}_{arch}.cu"
        src.write_text(cupy_loader.with_macros(cupy_loader.kernel_source(name), macros, f"{name}.cu"))
        r = subprocess.run([NVCC, "--ptx", f"-arch=sm_{arch}", str(src), "-o", str(src.with_suffix(".ptx"))],
                           capture_output=True, text=True)
        return name, macros, arch, r.returncode, r.stderr, src.with_suffix(".ptx")

    jobs = [(job, arch) for job in _compile_jobs() for arch in (80, 90)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(compile_one, jobs))
    for name, macros, arch, rc, err, ptx in results:
        assert rc == 0, f"{name}.cu {macros} sm_{arch}:\n{err}"
        kernels = {"selected_attention": ("sel_attn_fwd", "sel_attn_bwd_dq", "sel_attn_bwd_dkv"),
                   "hashing": ("ngram_hash", "simhash")}[name]
        text = ptx.read_text()
        assert all(f".entry {k}(" in text for k in kernels), f"{name}.cu sm_{arch}: missing entry points"


def _nvrtc():
    candidates = [ctypes.util.find_library("nvrtc")]
    for base in sys.path:
        candidates += glob.glob(os.path.join(base, "nvidia", "cuda_nvrtc", "lib", "libnvrtc.so*"))
        candidates += glob.glob(os.path.join(base, "nvidia", "cu13", "lib", "libnvrtc.so*"))
    for path in filter(None, candidates):
        if "builtins" not in path and ".alt." not in path:
            try:
                return ctypes.CDLL(path)
            except OSError:
                continue
    return None


@pytest.mark.skipif(_nvrtc() is None, reason="needs libnvrtc (pip: nvidia-cuda-nvrtc-cu12)")
def test_every_kernel_compiles_under_nvrtc_as_cupy_does():
    lib = _nvrtc()
    for name, macros in _compile_jobs():
        src = cupy_loader.with_macros(cupy_loader.kernel_source(name), macros, f"{name}.cu").encode()
        prog = ctypes.c_void_p()
        assert lib.nvrtcCreateProgram(ctypes.byref(prog), src, f"{name}.cu".encode(), 0, None, None) == 0
        opts = [o.encode() for o in (*cupy_loader.NVRTC_OPTIONS, "--gpu-architecture=compute_80")]
        rc = lib.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts))
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, log)
        lib.nvrtcDestroyProgram(ctypes.byref(prog))
        assert rc == 0, f"{name}.cu {macros}:\n{log.value.decode()}"


# ---------------------------------------------------------------- CPU emulation of the kernels


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    """build(name, macros) -> path of the emulation binary (built once per macro set)."""
    root = tmp_path_factory.mktemp("emu")
    probe = subprocess.run([GXX, "-fsanitize=address,undefined", "-x", "c++", "-", "-o", str(root / "probe")],
                           input="int main() { return 0; }", capture_output=True, text=True)
    sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"] if probe.returncode == 0 else []
    built: dict = {}

    def build(name, macros):
        key = (name, tuple(sorted(macros.items())))
        if key not in built:
            src = root / ("_".join([name, *(f"{k}{v}" for k, v in key[1])]) + ".cpp")  # one file per macro set
            define = "EMU_ATTENTION" if name == "selected_attention" else "EMU_HASHING"
            src.write_text('#include "cuda_cpu_emu.h"\n'
                           + cupy_loader.with_macros(cupy_loader.kernel_source(name), macros, f"{name}.cu")
                           + f'\n#define {define}\n#include "cuda_cpu_emu_driver.cpp"\n')
            exe = src.with_suffix("")
            r = subprocess.run([GXX, "-std=c++20", "-O1", "-pthread", *sanitize, f"-I{HERE}", str(src), "-o",
                                str(exe)], capture_output=True, text=True)
            assert r.returncode == 0, r.stderr[-4000:]
            built[key] = exe
        return built[key]

    with ThreadPoolExecutor(max_workers=2) as pool:  # what the tests below use, built side by side
        list(pool.map(lambda job: build(*job), [("selected_attention", m) for m in EMU_MACROS]
                      + [("hashing", {"ELEM_KIND": 0, **cupy_kernels.SIMHASH_MACROS})]))
    return build


@pytest.fixture
def emulated(emulator, monkeypatch, tmp_path):
    """Redirect cupy_loader.launch to the emulator: the wrappers run unchanged on CPU tensors."""
    def launch(name, macros, kernel, grid, block, args, device):
        assert macros["ELEM_KIND"] != 1, "float16 conversions are PTX: no emulation"
        tokens, arrays = [], {}
        for i, a in enumerate(args):
            if isinstance(a, torch.Tensor):
                a = a.detach().contiguous()
                arrays[i] = (a.view(torch.int16) if a.dtype == torch.bfloat16 else a).numpy().copy()
                arrays[i].tofile(tmp_path / f"a{i}.bin")
                tokens.append("@")
            elif isinstance(a, float):
                tokens.append(repr(float(np.float32(a))))
            else:
                tokens.append(str(int(a)))
        grid = (*grid, 1)[:2]
        r = subprocess.run([str(emulator(name, macros)), kernel, str(tmp_path), str(grid[0]), str(grid[1]),
                            str(block[0]), *tokens], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"{kernel} failed under emulation:\n{r.stderr[-4000:]}"
        for i, before in arrays.items():
            after = np.fromfile(tmp_path / f"a{i}.bin", dtype=before.dtype)
            if after.tobytes() != before.tobytes():  # an output: copy it back (inputs stay untouched)
                got = torch.from_numpy(after).view(args[i].shape)
                with torch.no_grad():
                    args[i].copy_(got.view(torch.bfloat16) if args[i].dtype == torch.bfloat16 else got)

    monkeypatch.setattr(cupy_loader, "launch", launch)


def _attention_inputs(B, H, Hkv, Tq, Tk, D, bs, lq, n, dtype=torch.float32, device="cpu", seed=0):
    """Random q, k, v and a selection of n distinct blocks per query block of lq queries (n="all":
    every block), with some slots -1 and some blocks in the future (masked)."""
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, h, t, D, generator=g) for h, t in ((H, Tq), (Hkv, Tk), (Hkv, Tk)))
    n_blocks = -(-Tk // bs)
    if n == "all":
        idx = torch.arange(n_blocks).expand(B, Hkv, Tq // lq, n_blocks).clone()
    else:
        idx = torch.rand(B, Hkv, Tq // lq, n_blocks, generator=g).argsort(-1)[..., :n]
        idx[torch.rand(idx.shape, generator=g) < 0.25] = -1
    return (*(t.to(device=device, dtype=dtype) for t in (q, k, v)), idx.to(device))


# (B, H, Hkv, Tq, Tk, D, block size, queries per selection, selected blocks); two macro sets
# (head dim 24 with 4-row CTAs, head dim 64 with 16-row CTAs) keep the emulator builds few
EMU_CASES = {
    "G1, T not a multiple of the block": (1, 2, 2, 37, 37, 24, 8, 1, 3),
    "G2, one selected block": (2, 4, 2, 29, 29, 24, 8, 1, 1),
    "blocks larger than the tiles": (1, 1, 1, 100, 100, 24, 80, 1, 2),
    "G8, all blocks, query blocks of 2": (1, 8, 1, 40, 40, 64, 16, 2, "all"),
    "G2, query blocks of 8, queries last of the keys": (1, 4, 2, 16, 50, 64, 8, 8, 3),
}
EMU_MACROS = [cupy_kernels.attention_macros(dtype, d, rows)
              for dtype, d, rows in ((torch.float32, 24, 1), (torch.float32, 64, 16), (torch.bfloat16, 24, 1))]


def _check_attention(fn, case, dtype, device, tol):
    B, H, Hkv, Tq, Tk, D, bs, lq, n = case
    seed = int.from_bytes(os.urandom(4), "little")  # fresh inputs each run; the message names the seed
    q, k, v, idx = _attention_inputs(B, H, Hkv, Tq, Tk, D, bs, lq, n, dtype, device, seed)
    qk = [t.clone().requires_grad_(True) for t in (q, k, v)]
    out = fn(*qk, idx, bs)
    grad = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed + 1)).to(device=device, dtype=dtype)
    out.backward(grad)
    ref_in = [t.detach().double().requires_grad_(True) for t in (q, k, v)]
    ref = selected_attention_ref(*ref_in, idx, bs)
    ref.backward(grad.double())
    for name, got, want in (("out", out, ref), *((f"d{c}", a.grad, b.grad) for c, a, b in zip("qkv", qk, ref_in))):
        assert got.dtype == dtype and got.shape == want.shape
        err = rel_err(got, want)
        assert err <= tol, f"{name}: relative error {err:.2e} > {tol:.0e} (seed {seed})"


@pytest.mark.skipif(GXX is None, reason="needs g++ for the CPU emulation")
@pytest.mark.parametrize("case", EMU_CASES.values(), ids=EMU_CASES.keys())
def test_emulated_selected_attention_matches_reference(emulated, case):
    def fn(q, k, v, idx, bs):
        return cupy_kernels.SelectedAttention.apply(q, k, v, idx, bs, 1.0 / math.sqrt(q.shape[-1]))

    _check_attention(fn, case, torch.float32, "cpu", 1e-5)


@pytest.mark.skipif(GXX is None, reason="needs g++ for the CPU emulation")
def test_emulated_selected_attention_in_bfloat16(emulated):
    def fn(q, k, v, idx, bs):
        return cupy_kernels.SelectedAttention.apply(q, k, v, idx, bs, 1.0 / math.sqrt(q.shape[-1]))

    _check_attention(fn, EMU_CASES["G1, T not a multiple of the block"], torch.bfloat16, "cpu", 1e-2)


@pytest.mark.skipif(GXX is None, reason="needs g++ for the CPU emulation")
def test_emulated_query_without_visible_keys_gets_zeros(emulated):
    q, k, v, _ = _attention_inputs(1, 2, 1, 12, 12, 24, 4, 1, 1)
    idx = torch.full((1, 1, 12, 1), 2)  # block 2 = keys 8..11: invisible to queries 0..7
    qr = q.clone().requires_grad_(True)
    out = cupy_kernels.SelectedAttention.apply(qr, k, v, idx, 4, 0.2)
    out.sum().backward()
    assert torch.equal(out[:, :, :8], torch.zeros_like(out[:, :, :8])) and (out[:, :, 8:] != 0).all()
    assert torch.isfinite(qr.grad).all() and torch.equal(qr.grad[:, :, :8], torch.zeros_like(qr.grad[:, :, :8]))


@pytest.mark.skipif(GXX is None, reason="needs g++ for the CPU emulation")
def test_emulated_ngram_hash_is_bit_exact_including_wraparound(emulated):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 50_000, (3, 41), generator=g)
    ids[0, :8] = torch.tensor([2**62, -(2**62), 2**63 - 1, -(2**63), -1, -2, 2**31 - 1, 2**40])  # products wrap
    sizes = [1, 2, 3, 1_000_003, 2**61 - 1, 2**63 - 1, 97, 4_294_967_311, 65_537]
    seeds = list(range(9))
    got = cupy_kernels.ngram_hash_launch(ids, (2, 3, 4), 3, sizes, seeds)
    want = ngram_hash_ref(ids, (2, 3, 4), 3, sizes, seeds)
    assert torch.equal(got, want), (got != want).nonzero()[:5]


@pytest.mark.skipif(GXX is None, reason="needs g++ for the CPU emulation")
@pytest.mark.parametrize("r,D", [(5, 100), (62, 100), (62, 40)])
def test_emulated_simhash_matches_reference_away_from_zero(emulated, r, D):
    g = torch.Generator().manual_seed(int.from_bytes(os.urandom(4), "little"))
    x, planes = torch.randn(3, 23, D, generator=g), torch.randn(D, r, generator=g)  # D 100: 2 chunks of dims
    _check_simhash(cupy_kernels.simhash_launch(x, planes), x, planes)


@pytest.mark.skipif(GXX is None, reason="needs g++ for the CPU emulation")
def test_emulated_hashing_grid_stride_loops(emulated, monkeypatch):
    monkeypatch.setitem(cupy_kernels.MAX_BLOCKS, "ngram_hash", 3)
    monkeypatch.setitem(cupy_kernels.MAX_BLOCKS, "simhash", 2)
    ids = torch.randint(0, 1000, (2, 700))  # 2800 outputs over 3 blocks of 256 threads
    assert torch.equal(cupy_kernels.ngram_hash_launch(ids, (2, 3), 2, [101, 103, 107, 109], [1, 2, 3, 4]),
                       ngram_hash_ref(ids, (2, 3), 2, [101, 103, 107, 109], [1, 2, 3, 4]))
    g = torch.Generator().manual_seed(0)
    for D in (40, 100):  # planes loaded once per CTA, and per pass
        x, planes = torch.randn(200, D, generator=g), torch.randn(D, 30, generator=g)  # 200 vectors, 2 CTAs of 32
        _check_simhash(cupy_kernels.simhash_launch(x, planes), x, planes)


def _check_simhash(got, x, planes):
    """Bits agree with float64 signs wherever |x . plane| is clearly away from zero (1e-3 of
    |x| |plane|), and with simhash_ref where it is far from zero (the reference's own matmul may
    round differently: cuBLAS's reduced-precision bf16 reductions)."""
    x64, p64 = x.double().cpu(), planes.double().cpu()
    dots = x64 @ p64
    scale = x64.norm(dim=-1, keepdim=True) * p64.norm(dim=0)
    bit = torch.arange(planes.shape[1])
    bits = (got.cpu()[..., None] >> bit) & 1
    clear = dots.abs() > 1e-3 * scale
    assert clear.float().mean() > 0.9  # the check covers nearly every bit
    assert torch.equal(bits[clear], (dots > 0).long()[clear])
    assert (got.cpu() >> planes.shape[1] == 0).all()
    ref_bits = (simhash_ref(x, planes).cpu()[..., None] >> bit) & 1
    far = dots.abs() > 5e-2 * scale
    assert torch.equal(bits[far], ref_bits[far])


# ---------------------------------------------------------------- GPU
GPU_CASES = {
    "G1, T not a multiple of the block": (2, 4, 4, 300, 300, 64, 64, 1, 3),
    "G2, one selected block": (1, 4, 2, 257, 257, 64, 64, 1, 1),
    "G8, all blocks": (1, 16, 2, 200, 200, 64, 64, 1, "all"),
    "G8, head dim 128": (1, 8, 1, 190, 190, 128, 64, 1, 4),
    "G2, query blocks of 16, decode-like": (2, 4, 2, 64, 333, 64, 32, 16, 5),
    "G1, head dim 32, block 16": (1, 2, 2, 100, 100, 32, 16, 1, 6),
}


@pytest.fixture
def cupy_backend(fresh_backend):
    ops.set_backend("cupy")
    assert ops.impl("selected_attention", torch.device("cuda")) is cupy_kernels.selected_attention_cupy


@pytest.mark.gpu
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.bfloat16, 1e-2)], ids=["fp32", "bf16"])
@pytest.mark.parametrize("case", GPU_CASES.values(), ids=GPU_CASES.keys())
def test_gpu_selected_attention_matches_reference(cupy_backend, case, dtype, tol):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="qtk.ops: using the torch reference")  # the kernels must run
        _check_attention(ops.selected_attention, case, dtype, "cuda", tol)


@pytest.mark.gpu
def test_gpu_ngram_hash_is_bit_exact(cupy_backend):
    ids = torch.randint(0, 2**31 - 1, (3, 1000), device="cuda")
    ids[0, :4] = torch.tensor([2**62, -(2**62), 2**63 - 1, -1])
    orders, heads = (2, 3, 4), 4
    sizes = [1_000_003 + 2 * i for i in range(12)]
    sizes[0], sizes[1] = 1, 2**63 - 1
    got = ops.ngram_hash(ids, orders, heads, sizes, list(range(12)))
    assert torch.equal(got, ngram_hash_ref(ids, orders, heads, sizes, list(range(12))))


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_gpu_simhash_matches_reference(cupy_backend, dtype):
    x = torch.randn(7, 333, 200, device="cuda").to(dtype)
    planes = torch.randn(200, 62, device="cuda")
    _check_simhash(ops.simhash(x, planes), x, planes.to(dtype))
