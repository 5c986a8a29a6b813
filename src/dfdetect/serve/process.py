"""A ``dfdetect serve`` child process on loopback, for tests, benchmarks and scripts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """Runs ``python -m dfdetect serve ARGS`` on 127.0.0.1 and waits until /readyz says ready.

    The server's output goes to ``<data_dir>/server.log`` (shown when it fails to start).
    """

    def __init__(
        self, args: list[str], data_dir: Path, port: int | None = None, env: dict | None = None
    ):
        self.args = list(args)
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.env = {**os.environ, **(env or {})}
        self.log_path = self.data_dir / "server.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8123``."""
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The server's command line (an argument list: no shell)."""
        return [
            *(sys.executable, "-m", "dfdetect", "serve", "--host", "127.0.0.1"),
            *("--port", str(self.port), "--data-dir", str(self.data_dir), *self.args),
        ]

    def start(self, timeout_s: float = 120.0, wait_for_model: bool = True) -> ServerProcess:
        """Start the process; return once /readyz says ready (or only /healthz answers, with
        ``wait_for_model=False``). Raises RuntimeError (with the log) otherwise."""
        probe = f"{self.url}/readyz" if wait_for_model else f"{self.url}/healthz"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.env
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with _DIRECT.open(probe, timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:  # refused while starting, or 503 (HTTPError) while loading
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server not ready after {timeout_s:g} s:\n{self.log()}")

    def log(self) -> str:
        """The last 4000 characters of the server's output."""
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM (uvicorn's graceful shutdown), SIGKILL after 15 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
