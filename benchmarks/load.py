"""Load on the studio: many concurrent API clients against `kinetoscope serve` on 127.0.0.1.

    python -m benchmarks.load                          # 50 clients for 120 s: benchmarks/results/load.json
    python -m benchmarks.load --quick                  # 10 clients for 15 s
    python -m benchmarks.load --clients 20 --seconds 30 --workers 2 --builtin builtin:/path/to/model

Each client (asyncio + httpx) loops until the time is up: create a small video (32x32, 1 s,
2 steps), poll it (GET) while listing the gallery (GET /v1/videos) until it is done, then
download the video and its thumbnail. Afterwards the harness waits for every accepted job and
checks each one completed. The studio runs as real processes: `serve` with its in-process
worker (--workers 0) or `serve --no-worker` plus N `kinetoscope worker` processes, all with
one torch thread, the embedded SQLite database and queue (or --database-url / --redis-url),
and the per-minute rate limit off (every client comes from 127.0.0.1).

Reported per API call: count, requests/s, p50 and p99 latency, errors (any non-2xx answer or
failed request; the goal is 0); and jobs accepted / completed / failed / lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
JOB = {"prompt": "a red circle moving right on a blue background", "size": "32x32", "seconds": "1", "steps": 2}
POLL_SECONDS = 0.5


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    p.add_argument("--seconds", type=float, default=120.0, help="how long clients start new jobs (default 120)")
    p.add_argument("--quick", action="store_true", help="10 clients for 15 s")
    p.add_argument("--workers", type=int, default=1,
                   help="`kinetoscope worker` processes; 0: the server's in-process worker (default 1)")
    p.add_argument("--builtin", default="builtin", help="the built-in model's folder spec (default: the shipped weights)")
    p.add_argument("--database-url", default="", help="default: SQLite in a temporary data dir")
    p.add_argument("--redis-url", default="", help="default: the SQLite queue file")
    p.add_argument("--drain-seconds", type=float, default=300.0, help="how long to wait for accepted jobs afterwards")
    p.add_argument("--threads", type=int, default=1, help="torch threads per worker (default 1)")
    p.add_argument("--out", type=Path, default=RESULTS / "load.json", help="where the JSON results go")
    args, _ = p.parse_known_args(argv)  # `python -m benchmarks` passes the same arguments to every benchmark
    if args.quick:
        args.clients, args.seconds = 10, 15.0
    return args


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Studio:
    """`kinetoscope serve` (+ workers) as subprocesses on a temporary data dir."""

    def __init__(self, args, data_dir: Path):
        self.port, self.procs, self.data_dir = _free_port(), [], data_dir
        self.env = {**os.environ, "KINETOSCOPE_DATA_DIR": str(data_dir), "KINETOSCOPE_BUILTIN": args.builtin,
                    "KINETOSCOPE_RATE_LIMIT_PER_MINUTE": "0", "KINETOSCOPE_WORKER_THREADS": str(args.threads),
                    "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(args.threads)}
        if args.database_url:
            self.env["KINETOSCOPE_DATABASE_URL"] = args.database_url
        if args.redis_url:
            self.env["KINETOSCOPE_REDIS_URL"] = args.redis_url
        self.args = args

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, *argv: str) -> subprocess.Popen:
        log = open(self.data_dir / f"proc-{len(self.procs)}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "kinetoscope", *argv, "--log-level", "warning"],
                                env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def start(self) -> None:
        embedded = self.args.workers == 0
        server = self._spawn("serve", "--port", str(self.port), "--threads", str(self.args.threads),
                             *([] if embedded else ["--no-worker"]))
        for _ in range(self.args.workers):
            self._spawn("worker", "--threads", str(self.args.threads))
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"kinetoscope serve did not start (see {self.data_dir}/proc-0.log)")
            time.sleep(0.2)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


class Stats:
    def __init__(self):
        self.latency = defaultdict(list)  # call -> seconds
        self.errors = defaultdict(list)  # call -> [status or exception name]
        self.accepted: list[str] = []

    async def call(self, client: httpx.AsyncClient, name: str, method: str, url: str, **kw) -> httpx.Response | None:
        t = time.perf_counter()
        try:
            r = await client.request(method, url, **kw)
        except httpx.HTTPError as e:
            self.errors[name].append(type(e).__name__)
            return None
        self.latency[name].append(time.perf_counter() - t)
        if not r.is_success:
            self.errors[name].append(r.status_code)
            return None
        return r


async def one_client(base: str, stats: Stats, deadline: float, n: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as c:
        while time.monotonic() < deadline:
            r = await stats.call(c, "create", "POST", "/v1/videos", json={**JOB, "seed": n})
            n += 1000
            if r is None:
                await asyncio.sleep(1)
                continue
            vid = r.json()["id"]
            stats.accepted.append(vid)
            status = r.json()["status"]
            while status not in ("completed", "failed"):
                await asyncio.sleep(POLL_SECONDS)
                await stats.call(c, "list", "GET", "/v1/videos", params={"limit": 20})
                got = await stats.call(c, "retrieve", "GET", f"/v1/videos/{vid}")
                status = got.json()["status"] if got is not None else status
            if status == "completed":
                await stats.call(c, "download_video", "GET", f"/v1/videos/{vid}/content")
                await stats.call(c, "download_thumbnail", "GET", f"/v1/videos/{vid}/content", params={"variant": "thumbnail"})


async def drive(base: str, clients: int, seconds: float) -> tuple[Stats, float]:
    stats = Stats()
    start = time.monotonic()
    await asyncio.gather(*(one_client(base, stats, start + seconds, i) for i in range(clients)))
    return stats, time.monotonic() - start


def check_jobs(base: str, ids: list[str], drain_seconds: float) -> dict:
    """Wait for every accepted job to finish; count how they ended (lost: not found at all)."""
    final: dict[str, str] = {}
    deadline = time.monotonic() + drain_seconds
    with httpx.Client(base_url=base, timeout=30) as c:
        while True:
            for vid in ids:
                if final.get(vid) in ("completed", "failed", "lost"):
                    continue
                r = c.get(f"/v1/videos/{vid}")
                final[vid] = "lost" if r.status_code == 404 else r.json()["status"]
            if all(s in ("completed", "failed", "lost") for s in final.values()) or time.monotonic() > deadline:
                break
            time.sleep(1)
    counts = defaultdict(int)
    for s in final.values():
        counts[s] += 1
    return {"accepted": len(ids), "completed": counts["completed"], "failed": counts["failed"], "lost": counts["lost"],
            "unfinished": len(ids) - counts["completed"] - counts["failed"] - counts["lost"]}


def _ms(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return round(values[0] * 1000, 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000, 1)


def report(stats: Stats, elapsed: float, jobs: dict, args) -> dict:
    calls = {}
    for name in sorted(set(stats.latency) | set(stats.errors)):
        lat = stats.latency[name]
        calls[name] = {"count": len(lat) + len(stats.errors[name]), "per_second": round(len(lat) / elapsed, 2),
                       "p50_ms": _ms(lat, 50), "p99_ms": _ms(lat, 99), "errors": len(stats.errors[name]),
                       "error_kinds": sorted({str(e) for e in stats.errors[name]})}
    total = sum(c["count"] for c in calls.values())
    return {"clients": args.clients, "seconds": round(elapsed, 1), "workers": args.workers,
            "worker_threads": args.threads, "model": args.builtin, "job": JOB,
            "database": "postgresql" if args.database_url else "sqlite", "queue": "redis" if args.redis_url else "sqlite",
            "requests": total, "requests_per_second": round(total / elapsed, 1),
            "errors": sum(c["errors"] for c in calls.values()), "calls": calls, "jobs": jobs,
            "videos_per_second": round(jobs["completed"] / elapsed, 2),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}}


def run(args) -> dict:
    with tempfile.TemporaryDirectory(prefix="kinetoscope-load-") as tmp:
        studio = Studio(args, Path(tmp))
        studio.start()
        try:
            stats, elapsed = asyncio.run(drive(studio.url, args.clients, args.seconds))
            jobs = check_jobs(studio.url, stats.accepted, args.drain_seconds)
        finally:
            studio.stop()
    return report(stats, elapsed, jobs, args)


def main(argv=None) -> dict:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    print(f"load: {args.clients} clients for {args.seconds:g} s against kinetoscope serve "
          f"({args.workers or 'in-process'} worker(s), {args.threads} thread(s) each)", flush=True)
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'call':<20}{'count':>8}{'per s':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, c in result["calls"].items():
        print(f"{name:<20}{c['count']:>8}{c['per_second']:>8}{c['p50_ms']:>9}{c['p99_ms']:>9}{c['errors']:>8}")
    j = result["jobs"]
    print(f"{result['requests']} requests, {result['requests_per_second']}/s, {result['errors']} errors; "
          f"jobs: {j['accepted']} accepted, {j['completed']} completed, {j['failed']} failed, {j['lost']} lost, "
          f"{j['unfinished']} unfinished -> {args.out}")
    return result


if __name__ == "__main__":
    main()
