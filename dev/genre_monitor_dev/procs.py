"""Small helpers to run real server processes on loopback for tests and the demo."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (the OS picks it; the race until bind is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ProcessExited(RuntimeError):
    """A server process died: waiting for it to become ready is pointless."""


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1
) -> None:
    """Poll ``check`` until it is true; raise naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except ProcessExited:
            raise
        except Exception as error:  # any other failure means "not yet"
            last_error = error
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}: {last_error or ''}")


def http_ok(url: str) -> Callable[[], bool]:
    return lambda: requests.get(url, timeout=1).status_code == 200


class ManagedProcess:
    """A child process in its own process group, logging to a file, stopped reliably."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict | None = None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(self.env or {})},
            start_new_session=True,  # own process group: stop() reaches its children too
        )
        log.close()
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def answers(self, url: str) -> Callable[[], bool]:
        """A wait_until check: ``url`` answers 200, and the process has not died
        (a dead process fails the wait at once rather than at its timeout)."""
        def check() -> bool:
            self.check_running()
            return http_ok(url)()
        return check

    def check_running(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise ProcessExited(
                f"{self.name} exited with {self.process.returncode}; "
                f"last log lines:\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def stop(self, timeout: float = 10) -> None:
        if not self.running():
            return
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)


def project_command(name: str) -> str:
    """A console script of this project: the one beside the running Python first
    (the venv's bin need not be on PATH), then PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name}: not installed; run `make setup`")
    return found


def path_with_project_bin() -> str:
    """PATH with the running Python's bin folder first, for child processes."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
