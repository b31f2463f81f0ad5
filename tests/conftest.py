"""Shared fixtures: an isolated token cache and a CLI runner that executes `qtk` in-process."""

import importlib.util

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("QTK_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "qtk-cache"))


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
