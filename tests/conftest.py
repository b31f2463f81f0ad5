"""Shared fixtures: an isolated token cache and a CLI runner that executes `qtk` in-process."""

import importlib.util
import os
import signal

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads (see qtk/__init__.py)

# The Ctrl-C tests press Ctrl-C as a terminal does. A suite started in the background of a
# non-interactive shell (`cmd &`, as some CI runners do) inherits SIGINT ignored, and so would
# every `qtk` it starts: give the tests the terminal's disposition.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

import pytest  # noqa: E402

# Small settings shared by the tests that train: pydoc corpus (always available), a ~60k-param model.
TINY_SETS = {
    "data.corpus": "pydoc", "model.n_layer": 2, "model.n_head": 4, "model.n_embd": 64,
    "model.block_size": 64, "train.batch_size": 8, "train.warmup_steps": 5, "train.eval_interval": 10,
    "train.eval_tokens": 2048, "train.log_interval": 1, "train.max_steps": 20,
}


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    old = os.environ.get("QTK_CACHE_DIR")
    os.environ["QTK_CACHE_DIR"] = str(tmp_path_factory.getbasetemp() / "qtk-cache")
    yield
    if old is None:
        os.environ.pop("QTK_CACHE_DIR", None)
    else:
        os.environ["QTK_CACHE_DIR"] = old


def tiny_config(**overrides):
    from qtk import config

    return config.load(flags={**TINY_SETS, **overrides})


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A run directory with a briefly trained tiny byte-level model (trained once per session)."""
    from qtk.train.loop import train

    run_dir = tmp_path_factory.mktemp("tiny") / "run"
    train(tiny_config(), out_dir=str(run_dir))
    return run_dir


def _has_cuda_cupy() -> bool:
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    if any(item.get_closest_marker("gpu") for item in items) and not _has_cuda_cupy():
        skip = pytest.mark.skip(reason="needs CUDA and CuPy")
        for item in items:
            if item.get_closest_marker("gpu"):
                item.add_marker(skip)


@pytest.fixture
def cli():
    """Run `qtk ARGS...` in-process; returns click's Result (exit_code, stdout, stderr)."""
    from typer.testing import CliRunner

    from qtk.cli import app

    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(app, [str(a) for a in args], input=input)

    return run


def ctrl_c_inside_step(at: int, presses: int = 1):
    """A Trainer.train_step that presses Ctrl-C (real SIGINTs) `presses` times inside step `at`,
    after its batch was drawn: in the model's forward."""
    from qtk.train import loop

    real = loop.Trainer.train_step

    def step(self, lr, stats=False):
        if self.step != at:
            return real(self, lr, stats)

        def press(module, args):
            hook.remove()
            for _ in range(presses):
                os.kill(os.getpid(), signal.SIGINT)

        hook = self.model.register_forward_pre_hook(press)
        return real(self, lr, stats)

    return step
