"""Runner side of the fork server (forkserver.py): start it in the test interpreter, restart it
without any module whose import made forking unsafe, and hand out its children as Popen-like
objects the scheduler can poll, wait for and signal."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

from qtk.errors import QtkError, UsageError

SERVER_NAME = "_qtk_autobench_forkserver"
START_TIMEOUT_S = 300.0  # importing the preloaded modules on a loaded machine
MAX_RESTARTS = 8  # servers started in a row without an unsafe module before giving up on auto ones


class UnsafeModule(Exception):
    def __init__(self, name: str, why: str):
        super().__init__(f"{name}: {why}")
        self.name, self.why = name, why


def start_server(python: str, plugin_dir: Path, env: dict[str, str], explicit: tuple[str, ...],
                 auto: list[str] | None, sys_path_dirs: list[str], unsafe: dict[str, str],
                 launched: ForkServer | None = None) -> ForkServer:
    """A ready fork server (`auto` None: only the explicit modules, not even pytest's plugins),
    configuring `launched` if given (started earlier, it has imported pytest meanwhile). Each auto
    module that turns out unsafe is added to `unsafe` (name -> why) and a server started again
    without it; after MAX_RESTARTS, without any auto module."""
    for attempt in range(MAX_RESTARTS + 1):
        cfg = {"cwd": os.getcwd(), "explicit": list(explicit),
               "auto": [] if attempt == MAX_RESTARTS or auto is None else auto, "plugins": auto is not None,
               "skip": sorted(unsafe),
               "sys_path_dirs": sys_path_dirs}
        server = launched if attempt == 0 and launched is not None else ForkServer(python, plugin_dir, env)
        try:
            server.configure(cfg)
            return server
        except UnsafeModule as e:
            unsafe[e.name] = e.why
    raise AssertionError("unreachable: the last attempt has no auto module")


class ForkServer:
    def __init__(self, python: str, plugin_dir: Path, env: dict[str, str]) -> None:
        """Start the server process: it imports pytest at once, then waits for configure()."""
        script = plugin_dir / f"{SERVER_NAME}.py"
        if not script.exists():
            shutil.copyfile(Path(__file__).with_name("forkserver.py"), script)
        try:
            self.proc = subprocess.Popen([python, "-u", str(script)], stdin=subprocess.PIPE, env=env,
                                         stdout=subprocess.PIPE, start_new_session=True)
        except OSError as e:
            raise UsageError(f"--python {python}: cannot run it ({e.strerror})") from e
        self.fd = self.proc.stdout.fileno()
        self.buffer = b""
        self.statuses: dict[int, int] = {}  # pid -> raw wait status
        self.pids: dict[int, int] = {}  # request id -> pid
        self.serial = 0
        self.preloaded: list[str] = []  # plugins and auto modules it imported
        self.threaded: list[str] = []  # explicit modules that started a thread
        self.skipped: list[str] = []  # found unsafe before: not imported
        self.modules: frozenset[str] = frozenset()  # every module in sys.modules of the ready server

    def configure(self, cfg: dict) -> None:
        """Send what to preload and wait until it is imported; on failure the server is closed."""
        try:
            try:
                self.proc.stdin.write((json.dumps(cfg) + "\n").encode())
                self.proc.stdin.flush()
            except BrokenPipeError:
                raise QtkError(f"autobench --preload: the fork server exited (code {self.proc.wait()})") from None
            first = self._next_line(time.monotonic() + START_TIMEOUT_S, lambda msg: True)
        except BaseException:
            self.close()
            raise
        if "ready" not in first:
            self.close()
            if "unsafe" in first:
                raise UnsafeModule(first["unsafe"], first["why"])
            raise UsageError(f"--preload {','.join(cfg['explicit'])}: {first['error']}")
        self.preloaded, self.threaded, self.skipped = first["preloaded"], first["threaded"], first["skipped"]
        self.modules = frozenset(first.get("modules", ()))

    def fileno(self) -> int:
        """Readable when the server has news (a child's pid or exit status)."""
        return self.fd

    def spawn(self, args: list[str], out: Path, env: dict[str, str]) -> ForkedProcess:
        self.serial += 1
        req = {"id": self.serial, "args": args, "out": str(out), "env": env, "cwd": os.getcwd()}
        self.proc.stdin.write((json.dumps(req) + "\n").encode())
        self.proc.stdin.flush()
        serial = self.serial
        self._next_line(None, lambda msg: msg.get("id") == serial)
        return ForkedProcess(self, self.pids.pop(serial))

    def pump(self, block_until: float | None = 0.0, want: int | None = None) -> None:
        """Read what the server has said, without blocking (default), or until `want`'s status
        arrives or `block_until` (monotonic; None: no limit) passes."""
        while want is None or want not in self.statuses:
            timeout = None if block_until is None else max(0.0, block_until - time.monotonic())
            if not self._read(timeout):
                return
            self._parse()
            if block_until is not None and time.monotonic() >= block_until:
                return

    def close(self) -> None:
        """Stop the server (it exits when its stdin closes); safe to call twice."""
        try:
            self.proc.stdin.close()
        except (OSError, ValueError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()

    def _next_line(self, deadline: float | None, match) -> dict:
        while True:
            for msg in self._parse():
                if match(msg):
                    return msg
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                raise QtkError("autobench --preload: the fork server did not answer in time")
            self._read(timeout)

    def _read(self, timeout: float | None) -> bool:
        """Append what the server wrote within `timeout` to the buffer; False when nothing came."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        data = os.read(self.fd, 65536)
        if not data:
            raise QtkError(f"autobench --preload: the fork server exited (code {self.proc.poll()})")
        self.buffer += data
        return True

    def _parse(self) -> list[dict]:
        *lines, self.buffer = self.buffer.split(b"\n")
        msgs = [json.loads(line) for line in lines if line.strip()]
        for msg in msgs:
            if "status" in msg:
                self.statuses[msg["pid"]] = msg["status"]
            elif "id" in msg:
                self.pids[msg["id"]] = msg["pid"]
        return msgs


class ForkedProcess:
    """A test module's process forked by the server: the part of subprocess.Popen the scheduler uses."""

    def __init__(self, server: ForkServer, pid: int) -> None:
        self.server, self.pid, self.returncode = server, pid, None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.server.pump()
            self._settle()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            until = None if timeout is None else time.monotonic() + timeout
            self.server.pump(block_until=until, want=self.pid)
            self._settle()
            if self.returncode is None:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
        return self.returncode

    def _settle(self) -> None:
        status = self.server.statuses.pop(self.pid, None)
        if status is not None:
            self.returncode = os.waitstatus_to_exitcode(status)
