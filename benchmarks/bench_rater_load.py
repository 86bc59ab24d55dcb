"""Load and durability of the rating server on loopback, against SQLite and PostgreSQL.

For each backend: build a study (3 runs x P prompts, tiny images), invite R raters, start the
real server (``drawbench study serve`` in a subprocess) and let R simulated raters loop
``GET /api/next`` -> ``POST /api/vote`` (the same service path the Gradio UI uses) concurrently:

1. load phase (``--seconds``): afterwards the votes in the database must equal the votes the
   server acknowledged (zero lost, zero duplicated); p50 / p95 latency per vote request.
2. durability phase: load again, ``kill -9`` the server mid-load, restart it; clients retry
   unacknowledged votes (idempotent) until acknowledged; then every acknowledged vote must be in
   the database and the count must equal the acknowledged count.

PostgreSQL is started by the script from Debian's binaries (``apt-get install postgresql``) in a
temporary folder, or skipped with the reason. The last line printed is one JSON object.

    python benchmarks/bench_rater_load.py --raters 60 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import text

from rater_app.manage import create_study, invite_rater
from rater_app.storage import Database
from rater_app.testing import PostgresUnavailable, ThrowawayPostgres, make_runs

STUDY = "load"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``drawbench study serve`` in a subprocess; ``kill9`` and ``start`` again."""

    def __init__(self, db_url: str, port: int, log: Path):
        self.db_url, self.port, self.log = db_url, port, log
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> float:
        t0 = time.monotonic()
        cmd = [
            sys.executable,
            "-m",
            "drawbench.cli",
            "study",
            "serve",
            STUDY,
            "--db",
            self.db_url,
            "--port",
            str(self.port),
        ]
        with open(self.log, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/", timeout=1).status_code == 200:
                    return time.monotonic() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer within {timeout}s; see {self.log}")

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Clients:
    """R simulated raters; ``acked`` holds every (assignment, question) the server acknowledged."""

    def __init__(self, base: str, tokens: list[str]):
        self.base, self.tokens = base, tokens
        self.acked: set[tuple[str, str]] = set()
        self.latencies: list[float] = []
        self.errors = 0
        self.server_errors = 0

    async def _request(self, client, method, url, **kw):
        """Retry connection failures (server down) until an HTTP answer arrives."""
        while True:
            try:
                return await client.request(method, url, **kw)
            except httpx.TransportError:
                self.errors += 1
                await asyncio.sleep(0.2)

    async def rater(self, token: str, deadline: float) -> None:
        rng = random.Random(token)  # seeded per rater: the answers it gives
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=self.base, headers=headers, timeout=30) as client:
            while time.monotonic() < deadline:
                r = await self._request(client, "GET", "/api/next")
                if r.status_code >= 500:
                    self.server_errors += 1
                    continue
                item = r.json()
                if item["status"] != "item":
                    return
                answers = {q["key"]: rng.choice(q["answers"])["key"] for q in item["questions"]}
                t0 = time.perf_counter()
                r = await self._request(
                    client,
                    "POST",
                    "/api/vote",
                    json={"assignment": item["assignment"], "answers": answers},
                )
                self.latencies.append(time.perf_counter() - t0)
                if r.status_code == 200:
                    body = r.json()
                    self.acked.update(
                        (item["assignment"], q) for q in body["recorded"] + body["already_recorded"]
                    )
                else:
                    self.server_errors += r.status_code >= 500

    async def run(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(self.rater(t, deadline) for t in self.tokens))


def db_votes(db: Database) -> set[tuple[str, str]]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT a.public_id, v.question FROM votes v JOIN assignments a ON a.id = v.assignment_id"
            )
        ).all()
    return {(a, q) for a, q in rows}


def db_vote_rows(db: Database) -> int:
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM votes")).scalar()


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return (
        values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))] if values else float("nan")
    )


def bench_backend(name: str, url: str, runs: list[Path], args, work: Path) -> dict:
    db = Database(url)
    create_study(
        db,
        STUDY,
        runs,
        "drawbench",
        images_per_set=1,
        ratings_per_item=args.k,
        gold_share=0.05,
        items_per_rater=100_000,
    )
    tokens = [invite_rater(db, STUDY, f"rater{i}") for i in range(args.raters)]
    server = Server(url, free_port(), work / f"server-{name}.log")
    startup = server.start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        load = Clients(base, tokens)
        t0 = time.monotonic()
        asyncio.run(load.run(args.seconds))
        elapsed = time.monotonic() - t0
        stored = db_votes(db)
        phase1 = {
            "raters": args.raters,
            "seconds": round(elapsed, 1),
            "acknowledged": len(load.acked),
            "server_count": db_vote_rows(db),
            "lost": len(load.acked - stored),
            "unacknowledged_in_db": len(stored - load.acked),
            "vote_requests": len(load.latencies),
            "votes_per_s": round(len(load.acked) / elapsed, 1),
            "p50_ms": round(1000 * percentile(load.latencies, 50), 1),
            "p95_ms": round(1000 * percentile(load.latencies, 95), 1),
            "server_errors_5xx": load.server_errors,
        }
        phase1["ok"] = phase1["server_count"] == phase1["acknowledged"] and phase1["lost"] == 0

        before = len(stored)
        crash = Clients(base, tokens)
        crash.acked = set(load.acked)

        async def crash_run():
            task = asyncio.create_task(crash.run(args.seconds))
            t_kill = time.monotonic() + args.seconds / 3
            while not task.done() and (
                time.monotonic() < t_kill or len(crash.acked) < before + 2 * args.raters
            ):
                await asyncio.sleep(0.05)  # kill only once votes are flowing
            n_before_kill = len(crash.acked)
            await asyncio.to_thread(server.kill9)
            killed_at = time.monotonic()
            restart = await asyncio.to_thread(server.start)
            await task
            return n_before_kill, restart, time.monotonic() - killed_at

        acked_at_kill, restart_s, _ = asyncio.run(crash_run())
        stored = db_votes(db)
        phase2 = {
            "acknowledged_before_kill": acked_at_kill - before,
            "acknowledged_total": len(crash.acked),
            "server_count": db_vote_rows(db),
            "lost": len(crash.acked - stored),
            "unacknowledged_in_db": len(stored - crash.acked),
            "restart_s": round(restart_s, 1),
            "connection_retries": crash.errors,
            "server_errors_5xx": crash.server_errors,
        }
        phase2["ok"] = (
            phase2["lost"] == 0 and phase2["server_count"] == phase2["acknowledged_total"]
        )
        return {"load": phase1, "kill9": phase2, "server_startup_s": round(startup, 1)}
    finally:
        server.stop()
        db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--raters", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument(
        "--prompts", type=int, default=200, help="DrawBench prompts per run (3 runs)"
    )
    parser.add_argument("--k", type=int, default=5, help="ratings per item")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    results: dict = {
        "raters": args.raters,
        "seconds_per_phase": args.seconds,
        "cpus": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory(prefix="bench-rater-") as tmp:
        work = Path(tmp)
        runs = make_runs(work / "runs", 3, n_prompts=args.prompts, images=1, size=8)
        for backend in args.backends.split(","):
            if backend == "sqlite":
                results["sqlite"] = bench_backend(
                    "sqlite", f"sqlite:///{work / 'load.db'}", runs, args, work
                )
            elif backend == "postgres":
                try:
                    pg = ThrowawayPostgres().start()
                except PostgresUnavailable as err:
                    print(f"postgres: skipped ({err})", file=sys.stderr)
                    results["postgres"] = {"skipped": str(err)}
                    continue
                try:
                    results["postgres"] = bench_backend("postgres", pg.url, runs, args, work)
                finally:
                    pg.stop()
            print(f"{backend}: {json.dumps(results.get(backend))}", file=sys.stderr)
    ok = all(
        r.get("skipped") or (r["load"]["ok"] and r["kill9"]["ok"])
        for k, r in results.items()
        if k in ("sqlite", "postgres")
    )
    results["ok"] = ok
    print(json.dumps(results))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
