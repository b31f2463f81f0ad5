import shutil
import subprocess
import sys

import pytest
import torch

from qtk import __version__


def test_help_and_completion_do_not_import_torch():
    code = ("import sys\nfrom qtk.cli import app\n"
            "for argv in (['--help'], ['train', '--help'], ['eval', '--help']):\n"
            "    try:\n        app(argv, prog_name='qtk')\n    except SystemExit:\n        pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n"
            "assert 'numpy' not in sys.modules, 'numpy imported'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    env = {"_QTK_COMPLETE": "complete_bash", "COMP_WORDS": "qtk tr", "COMP_CWORD": "1", "PATH": ""}
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "qtk"], env=env, capture_output=True, text=True)
    assert "train" in r.stdout and "torch" not in r.stderr


def test_version(cli):
    r = cli("--version")
    assert r.exit_code == 0 and __version__ in r.stdout


def test_commands_listed(cli):
    out = cli("--help").stdout
    for name in ("train", "eval", "generate"):
        assert name in out


@pytest.mark.parametrize("make,code,msg", [
    (lambda d: d / "missing.safetensors", 2, "no such checkpoint"),
    (lambda d: d, 2, "holds no checkpoint"),
])
def test_missing_checkpoint(cli, tmp_path, make, code, msg):
    r = cli("eval", make(tmp_path))
    assert r.exit_code == code and msg in r.stderr and "Traceback" not in r.stderr


def _corrupt_variants(tiny_run, tmp_path):
    good = (tiny_run / "best.safetensors").read_bytes()
    yield "truncated", good[: len(good) // 2]
    yield "text", b"this is not a checkpoint\n"
    yield "header", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......"


def test_corrupt_checkpoints_fail_cleanly(cli, tiny_run, tmp_path):
    for name, data in _corrupt_variants(tiny_run, tmp_path):
        f = tmp_path / f"{name}.safetensors"
        f.write_bytes(data)
        for cmd in (("eval", f), ("generate", f, "-m", "2")):
            r = cli(*cmd)
            assert r.exit_code == 1, (name, r.stderr)
            assert "not a readable safetensors checkpoint" in r.stderr and r.stderr.count("\n") == 1


def test_plain_safetensors_without_metadata(cli, tmp_path):
    from safetensors.torch import save_file

    f = tmp_path / "w.safetensors"
    save_file({"x": torch.zeros(2)}, str(f))
    r = cli("eval", f)
    assert r.exit_code == 1 and "not a qtk checkpoint" in r.stderr


def test_pt_state_dict_with_config_beside(cli, tiny_run, tmp_path):
    from qtk import checkpoint
    from qtk.load import build_model

    ck = checkpoint.load(tiny_run)
    d = tmp_path / "pt"
    d.mkdir()
    torch.save(build_model(ck).state_dict(), d / "ckpt.pt")
    r = cli("generate", d / "ckpt.pt", "-m", "8", "-t", "0")
    assert r.exit_code == 2 and "config.toml" in r.stderr
    shutil.copy(tiny_run / "config.toml", d / "config.toml")
    a = cli("generate", d / "ckpt.pt", "-m", "8", "-t", "0", "--prompt", "x")
    b = cli("generate", tiny_run, "-m", "8", "-t", "0", "--prompt", "x")
    assert a.exit_code == 0 and a.stdout == b.stdout


def test_debug_shows_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "qtk", "--debug", "eval", str(tmp_path / "nope")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "Traceback" in r.stderr


def _commands():
    import typer

    from qtk.cli import app

    return typer.main.get_command(app).commands


# option -> the names it has in every command that takes it
SHARED = {"--json": {"--json"}, "--device": {"--device"}, "--seed": {"--seed"}, "--config": {"--config", "-c"},
          "-c": {"--config", "-c"}, "--force": {"--force", "-f"}, "-o": {"-o", "--output"},
          "--output": {"-o", "--output"}, "--group": {"--group"}}


def test_shared_options_are_the_same_everywhere():
    for name, cmd in _commands().items():
        for p in cmd.params:
            names = set(p.opts + p.secondary_opts)
            for opt in names & set(SHARED):
                if name == "train" and opt == "-o":
                    assert names == {"-o", "--out-dir"}  # train's output is its run directory
                elif name == "autobench" and opt == "--json":
                    assert p.metavar == "FILE"  # autobench writes its report to a file (or -)
                else:
                    assert names == SHARED[opt], (name, sorted(names))
            if "--json" in names and name != "autobench":
                assert p.is_flag, name
    for name in ("quantize", "export-onnx"):  # the int4 group size has one name
        shown = {o for p in _commands()[name].params if not getattr(p, "hidden", False) for o in p.opts}
        assert "--group" in shown and "--block-size" not in shown


def test_train_flags_say_what_their_settings_say():
    from qtk.cli.train import SETTINGS
    from qtk.config import describe

    helps = {key: text for key, _type, _default, text in describe()}
    params = {p.name: p for p in _commands()["train"].params}
    for flag, key in SETTINGS.items():
        assert params[flag].help == helps[key], flag


def test_former_option_names_still_work(cli, tmp_path):
    ck = tmp_path / "none.safetensors"  # the options are checked before the checkpoint is read
    r = cli("export-onnx", ck, "-o", tmp_path / "m.onnx", "--int4", "--block-size", 7)
    assert r.exit_code == 2 and "--group 7" in r.stderr.splitlines()[-1]
    r = cli("export-onnx", ck, "--out", tmp_path / "m.txt")
    assert r.exit_code == 2 and "-o " in r.stderr and ".onnx" in r.stderr
    r = cli("export-onnx", ck, "-o", tmp_path / "m.onnx", "--group", 32, "--block-size", 32)
    assert r.exit_code == 2 and "give one of them" in r.stderr
