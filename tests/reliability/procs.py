"""The studio as real processes (`kinetoscope serve`, `kinetoscope worker`), configured only by
KINETOSCOPE_* environment variables, so fault tests can SIGKILL and restart them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import httpx

from kinetoscope.studio.settings import Settings
from tests.studio.servers import free_port

# Small jobs: 32x32, 1 s at 8 fps (9 frames), a few steps: a fraction of a second on the tiny model.
SMALL = {"prompt": "a red circle moving right", "size": "32x32", "seconds": "1", "steps": 2}


def studio_env(settings: Settings, **extra: str) -> dict:
    env = {**os.environ, "KINETOSCOPE_DATA_DIR": str(settings.data_dir), "KINETOSCOPE_BUILTIN": settings.builtin_spec,
           "KINETOSCOPE_LEASE_SECONDS": str(settings.lease_seconds), "KINETOSCOPE_WORKER_THREADS": "1",
           "KINETOSCOPE_RATE_LIMIT_PER_MINUTE": "0", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    for var, value in (("KINETOSCOPE_DATABASE_URL", settings.database_url), ("KINETOSCOPE_REDIS_URL", settings.redis_url),
                       ("KINETOSCOPE_STORAGE_DIR", settings.storage_dir)):
        if value:
            env[var] = str(value)
    env.update(extra)
    return env


@dataclass
class Studio:
    """One data dir / database / queue, and the processes serving it (started and killed at will)."""

    settings: Settings
    port: int = field(default_factory=free_port)
    procs: list = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, args: list[str]) -> subprocess.Popen:
        log = open(os.path.join(self.settings.data_dir, f"proc-{len(self.procs)}.log"), "wb")
        proc = subprocess.Popen([sys.executable, "-m", "kinetoscope", *args, "--log-level", "warning"],
                                env=studio_env(self.settings), stdout=log, stderr=subprocess.STDOUT)
        proc.log_path = log.name
        self.procs.append(proc)
        return proc

    def serve(self, worker: bool = False) -> subprocess.Popen:
        """`kinetoscope serve` on this studio's port (with its in-process worker if `worker`); waits until it answers."""
        os.makedirs(self.settings.data_dir, exist_ok=True)
        proc = self._spawn(["serve", "--port", str(self.port), "--threads", "1", *([] if worker else ["--no-worker"])])
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return proc
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"kinetoscope serve did not start:\n{tail(proc)}")
            time.sleep(0.2)

    def worker(self) -> subprocess.Popen:
        os.makedirs(self.settings.data_dir, exist_ok=True)
        return self._spawn(["worker", "--threads", "1"])

    def close(self) -> None:
        for proc in self.procs:
            kill(proc)


def kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        proc.wait(30)


def tail(proc: subprocess.Popen, n: int = 3000) -> str:
    try:
        with open(proc.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-n:]
    except OSError:
        return ""


def wait_for(check, seconds: float, what: str, every: float = 0.2):
    """Poll `check()` until it returns something truthy; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(every)
