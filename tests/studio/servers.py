"""Real PostgreSQL and Redis servers for the tests, on 127.0.0.1 only, in a temp folder.

They come from Debian's packages (postgresql, redis-server). Without them the tests that need
them are skipped, unless KINETOSCOPE_REQUIRE_SERVICES=1 (set by .ci/run), where they fail.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def _missing(what: str):
    msg = f"{what} is not installed (apt-get install -y postgresql redis-server)"
    if os.environ.get("KINETOSCOPE_REQUIRE_SERVICES") == "1":
        pytest.fail(msg)
    pytest.skip(msg)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


class Postgres:
    """initdb + postgres in `root`, as the `postgres` user when we are root (it refuses root)."""

    def __init__(self, root: Path):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            _missing("PostgreSQL")
        self.bin = Path(bins[-1]).parent
        self.root, self.port = Path(root), free_port()
        self.data = self.root / "pgdata"
        self.proc: subprocess.Popen | None = None
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name

    def _as_user(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd

    def start(self) -> "Postgres":
        if os.geteuid() == 0:  # pytest's temp folders are private to root: give postgres its own
            self.root = Path(tempfile.mkdtemp(prefix="kinetoscope-pg-"))
            self.data = self.root / "pgdata"
            os.chmod(self.root, 0o755)
            shutil.chown(self.root, "postgres", "postgres")
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.data.exists():
            subprocess.run(self._as_user([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", self.user,
                                          "--no-sync", "-E", "UTF8"]), check=True, capture_output=True)
        return self.up()

    def up(self) -> "Postgres":
        """Start the server on its data folder and port (again, after `down`)."""
        self.proc = subprocess.Popen(self._as_user([
            str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port), "-h", "127.0.0.1",
            "-k", str(self.root), "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=200"]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port)
        time.sleep(0.3)
        return self

    def down(self, mode: str = "fast") -> None:
        """Stop the server but keep its data, as an outage does ("immediate": as a crash does)."""
        subprocess.run(self._as_user([str(self.bin / "pg_ctl"), "stop", "-D", str(self.data), "-m", mode, "-w"]),
                       check=True, capture_output=True)
        self.proc.wait(20)

    def create_database(self, name: str) -> str:
        for _ in range(50):
            r = subprocess.run(self._as_user([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                                              "-U", self.user, name]), capture_output=True, text=True)
            if r.returncode == 0:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(r.stderr)
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if os.geteuid() == 0:
            shutil.rmtree(self.root, ignore_errors=True)


class Redis:
    def __init__(self, root: Path):
        self.exe = shutil.which("redis-server")
        if not self.exe:
            _missing("redis-server")
        self.root, self.port = Path(root), free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "Redis":
        self.root.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([self.exe, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                                      "--appendonly", "no", "--dir", str(self.root), "--protected-mode", "yes"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
