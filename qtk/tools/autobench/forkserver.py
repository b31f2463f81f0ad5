"""The fork server behind `qtk autobench` (issue 18; `--no-preload` turns it off).

A fresh interpreter per test module pays every import again: pytest's own modules, its
entry-point plugins (hypothesis alone costs ~0.7 s), the project and its heavy dependencies. This
process imports them once, then forks one child per test module: each child starts from that
pristine state (copy-on-write), so the modules stay isolated from each other as before.

It imports pytest and its built-in plugins as soon as it starts, while the runner is still
planning; what else to import comes from the runner (imports.py chose it): the first stdin line
is {"cwd", "explicit": [--preload names], "auto": [names], "plugins": whether to preload pytest's
entry-point plugins, "skip": [names found unsafe before], "sys_path_dirs": [...]}. An auto
module is imported only when it is safe to fork after: no thread started (threading.active_count()
stays 1) and no CUDA context. One that is not makes the server answer {"unsafe": name, "why"} and
exit, and the runner starts a fresh server without it. A module that fails to import, or whose
top-level name a suite directory pytest puts on sys.path resolves elsewhere, is skipped.
Explicit --preload modules are imported as asked: one that fails is an error, one that starts a
thread is kept and named.

Protocol, one JSON object per line. The runner writes {"id", "args", "out", "env"} on stdin; the
server answers {"id", "pid"} once the child exists, and {"pid", "status"} (the raw wait status)
when a child exits; first of all {"ready": pid, ..., "modules": all of sys.modules} or
{"error": message}. Each child calls
setsid(), so the runner's timeouts kill its process group as they kill a subprocess's. Stdlib
only: autobench copies this file beside the run, and it runs in whatever interpreter runs the
tests (like pytest_plugin.py).
"""

import faulthandler
import gc
import importlib
import importlib.machinery
import importlib.util
import json
import os
import select
import signal
import sys
import threading
import traceback
import warnings

_REPLY_FD = 1  # replaced by a private copy: fd 1 goes to stderr, so an import's print() cannot
# corrupt the protocol
_ENV_ADDED: dict = {}  # what the preloaded imports put in os.environ; children get it too


def _reply(obj) -> None:
    os.write(_REPLY_FD, (json.dumps(obj) + "\n").encode())


def _unsafe() -> str | None:
    """Why forking now would not be safe, or None."""
    if threading.active_count() > 1:
        return f"its import started {threading.active_count() - 1} thread(s)"
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    if cuda is not None and getattr(cuda, "is_initialized", lambda: False)():
        return "its import initialised CUDA"
    return None


def _shadowed(name: str, dirs: list) -> bool:
    """Would a directory pytest prepends to sys.path give this top-level name another file?"""
    top = name.split(".")[0]
    if top in sys.modules:
        return False
    local = importlib.machinery.PathFinder.find_spec(top, dirs)
    if local is None:
        return False
    try:
        here = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return True
    if here is None:
        return True
    return (here.origin, here.submodule_search_locations) != (local.origin, local.submodule_search_locations)


def _plugin_modules() -> list:
    """The modules behind pytest's entry-point plugins (what `pytest11` loads in every run), and
    the top-level packages of the distributions that ship them (hypothesis's plugin imports
    hypothesis when pytest configures it: 0.7 s per run)."""
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return []
    from importlib.metadata import entry_points

    names = set()
    for ep in entry_points(group="pytest11"):
        names.add(ep.value.split(":")[0].strip())
        files = getattr(ep.dist, "files", None) or []
        names.update(f.parts[0].removesuffix(".py") for f in files
                     if f.parts[0].isidentifier() or (len(f.parts) == 1 and f.suffix == ".py"))
    return sorted(n for n in names if not n.startswith("__"))


def _import_pytest() -> None:
    import pytest  # noqa: F401
    from _pytest.config import default_plugins, essential_plugins

    for name in (*essential_plugins, *default_plugins):  # what every pytest.main() imports
        try:
            importlib.import_module(f"_pytest.{name}")
        except ImportError:
            pass


def _preload(cfg, env0: dict) -> dict:
    """Import what cfg names (pytest is already imported; env0: os.environ before it was);
    returns the ready message, or an {"unsafe"} / {"error"} one."""
    sys._qtk_autobench_baseline = frozenset(sys.modules)  # read by the plugin: imports to measure
    done, failed, threaded, skipped = [], [], [], []
    for name in cfg["explicit"]:
        try:
            importlib.import_module(name)
        except BaseException as e:  # noqa: BLE001 - any failure of a module the user named
            return {"error": f"{type(e).__name__}: {e}"}
        why = _unsafe()
        if why and name not in threaded:
            threaded.append(name)
    for name in [*(_plugin_modules() if cfg["plugins"] else []), *cfg["auto"]]:
        if name in cfg["skip"]:
            skipped.append(name)
            continue
        if name in sys.modules and name not in cfg["auto"]:
            continue
        if _shadowed(name, cfg["sys_path_dirs"]):
            failed.append(name)
            continue
        try:
            importlib.import_module(name)
        except (Exception, SystemExit):  # noqa: BLE001 - an optional dependency may be missing
            failed.append(name)
            continue
        why = None if threaded else _unsafe()
        if why:
            return {"unsafe": name, "why": why}
        done.append(name)
    _ENV_ADDED.update({k: v for k, v in os.environ.items() if env0.get(k) != v})
    return {"ready": os.getpid(), "preloaded": done, "failed": failed, "threaded": threaded,
            "skipped": skipped, "modules": sorted(sys.modules)}


def _child(req, wake_fds) -> None:
    """Runs in the forked child: become `python -m pytest ARGS` with stdout/stderr to req["out"]."""
    code = 1
    try:
        os.setsid()
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        for fd in (*wake_fds, _REPLY_FD):
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
        os.environ.update(_ENV_ADDED)
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
    global _REPLY_FD
    _REPLY_FD = os.dup(1)
    os.dup2(2, 1)
    # As `python -m pytest` in the children has it: the working directory (the runner's, which
    # started this process) first on sys.path, not this script's directory (autobench's plugin
    # directory, which comes second).
    sys.path[0] = os.getcwd()
    sys.path.insert(1, os.path.dirname(os.path.abspath(__file__)))
    env0 = dict(os.environ)
    _import_pytest()  # needs no configuration: done while the runner still plans
    pending = b""
    while b"\n" not in pending:
        data = os.read(0, 65536)
        if not data:
            return 1
        pending += data
    line, pending = pending.split(b"\n", 1)
    cfg = json.loads(line)
    if os.path.realpath(cfg["cwd"]) != os.path.realpath(os.getcwd()):
        os.chdir(cfg["cwd"])
        sys.path[0] = cfg["cwd"]
    hello = _preload(cfg, env0)
    _reply(hello)
    if "ready" not in hello:
        return 1
    gc.freeze()  # the preloaded objects: pytest's gc.collect() in every child need not walk them
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that the wakeup fd fires
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
