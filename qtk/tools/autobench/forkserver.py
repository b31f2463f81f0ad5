"""The fork server behind `qtk autobench --preload MODULES`.

A suite whose every module imports torch pays for that import once per module when each module
gets a fresh interpreter (about a second of CPU each). This process imports pytest and the
--preload modules once, then forks one child per test module: each child starts from that
pristine state (copy-on-write), so the modules stay isolated from each other as before.

Protocol, one JSON object per line. The runner writes {"id", "args", "out", "env", "cwd",
"plugin_dir"} on stdin; the server answers {"id", "pid"} once the child exists, and
{"pid", "status"} (the raw wait status) when a child exits; first of all {"ready": pid} or
{"error": message}. Each child calls setsid(), so the runner's timeouts kill its process group
as they kill a subprocess's. Stdlib only: autobench copies this file beside the run, and it runs
in whatever interpreter runs the tests (like pytest_plugin.py).
"""

import faulthandler
import importlib
import json
import os
import select
import signal
import sys
import traceback
import warnings


def _reply(obj) -> None:
    os.write(1, (json.dumps(obj) + "\n").encode())


def _child(req, wake_fds) -> None:
    """Runs in the forked child: become `python -m pytest ARGS` with stdout/stderr to req["out"]."""
    code = 1
    try:
        os.setsid()
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        for fd in wake_fds:
            os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        out = os.open(req["out"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(null)
        os.close(out)
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        sys.path[0] = os.getcwd()  # as `python -m pytest` has it (this script's directory otherwise)
        sys.path.insert(1, req["plugin_dir"])
        sys.argv = [sys.argv[0]]
        faulthandler.enable()  # what PYTHONFAULTHANDLER=1 does for a fresh interpreter
        import pytest

        code = int(pytest.main(req["args"]))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner handles Ctrl-C and kills the children
    # Python >= 3.12 warns on every fork of a process with threads (importing torch starts one);
    # forking after imports, before any work, is what DataLoader workers do too.
    warnings.filterwarnings("ignore", message=r".*use of fork\(\) may lead to deadlocks", category=DeprecationWarning)
    modules = [m for m in (sys.argv[1] if len(sys.argv) > 1 else "").split(",") if m]
    try:
        import pytest  # noqa: F401
        for name in modules:
            importlib.import_module(name)
    except BaseException as e:
        _reply({"error": f"{type(e).__name__}: {e}"})
        return 1
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that the wakeup fd fires
    _reply({"ready": os.getpid()})
    pending = b""
    while True:
        try:
            ready, _, _ = select.select([0, wake_r], [], [])
        except InterruptedError:
            ready = []
        if wake_r in ready:
            while True:
                try:
                    if not os.read(wake_r, 512):
                        break
                except BlockingIOError:
                    break
        while True:  # reap and report every child that has exited
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            _reply({"pid": pid, "status": status})
        if 0 in ready:
            data = os.read(0, 65536)
            if not data:  # the runner is gone or done
                return 0
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                req = json.loads(line)
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    _child(req, (wake_r, wake_w))
                _reply({"id": req["id"], "pid": pid})


if __name__ == "__main__":
    sys.exit(main())
