"""Helpers for bench/submit.py: drive bench/loadgen.mjs and account for CPU time.

The load generator is node (built-in modules only) rather than Python: on this 2-core
machine it needed no more CPU per request than an asyncio generator and kept its send
schedule far better while sharing the cores with the server (see bench/README.md).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

LOADGEN = Path(__file__).resolve().parent / "loadgen.mjs"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Request:
    """One request shape. `{n}` in `body` becomes a number unique within the run."""

    head: str
    body: str = ""


def get(path: str, port: int, headers: dict[str, str] | None = None) -> Request:
    return Request(_head("GET", path, port, headers))


def post_form(path: str, port: int, body: str, headers: dict[str, str] | None = None) -> Request:
    headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    return Request(_head("POST", path, port, headers), body)


def _head(method: str, path: str, port: int, headers: dict[str, str] | None) -> str:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "User-Agent: campaign-bench"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return "\r\n".join(lines) + "\r\n"


@dataclass
class LoadResult:
    name: str
    target_rate: float
    duration: float
    total: int
    expected: int
    statuses: dict[str, int]
    errors: dict[str, int]
    samples: list[dict]
    elapsed_seconds: float
    dispatch_lag_p99_ms: float
    loadgen_cpu_seconds: float
    peak_connections: int
    peak_backlog: int
    latencies_ms: list[float] = field(repr=False)
    worst_ms_by_second: list[float] = field(default_factory=list, repr=False)

    @property
    def achieved_rate(self) -> float:
        """Answers with the expected status per second, until the last answer came."""
        return self.expected / self.elapsed_seconds

    @property
    def error_count(self) -> int:
        """Wrong statuses, connection errors and requests never answered."""
        return self.total - self.expected

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return math.nan
        rank = max(1, math.ceil(q / 100 * len(self.latencies_ms)))
        return self.latencies_ms[rank - 1]

    @property
    def max_ms(self) -> float:
        return self.latencies_ms[-1] if self.latencies_ms else math.nan

    @classmethod
    def pooled(cls, runs: list[LoadResult]) -> LoadResult:
        """Several runs at one rate as one: answers, errors and latencies added up, each
        run's seconds of schedule one after the other."""
        first = runs[0]
        statuses: dict[str, int] = {}
        errors: dict[str, int] = {}
        for run in runs:
            for status, count in run.statuses.items():
                statuses[status] = statuses.get(status, 0) + count
            for error, count in run.errors.items():
                errors[error] = errors.get(error, 0) + count
        return cls(
            name=first.name, target_rate=first.target_rate,
            duration=sum(run.duration for run in runs), total=sum(run.total for run in runs),
            expected=sum(run.expected for run in runs), statuses=statuses, errors=errors,
            samples=[sample for run in runs for sample in run.samples][:3],
            elapsed_seconds=sum(run.elapsed_seconds for run in runs),
            dispatch_lag_p99_ms=max(run.dispatch_lag_p99_ms for run in runs),
            loadgen_cpu_seconds=sum(run.loadgen_cpu_seconds for run in runs),
            peak_connections=max(run.peak_connections for run in runs),
            peak_backlog=max(run.peak_backlog for run in runs),
            latencies_ms=sorted(ms for run in runs for ms in run.latencies_ms),
            worst_ms_by_second=[ms for run in runs for ms in run.worst_ms_by_second])


def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("bench/submit.py needs node (v18+) on PATH for its load generator")
    return node


def run_load(name: str, port: int, requests: list[Request], *, rate: float, duration: float,
             expect_status: int, first_index: int = 0, max_connections: int = 256,
             drain_seconds: float = 10.0, inflight_seconds: float = 30.0) -> LoadResult:
    """Sends round(rate * duration) requests at a fixed arrival rate; blocks until done.

    After `duration` the generator waits up to `drain_seconds` for answers, drops what it
    could not send by then, and gives requests already sent up to `inflight_seconds` more:
    a run never lasts longer than the sum of the three (plus start-up).
    """
    job = {
        "host": "127.0.0.1", "port": port, "rate": rate, "duration": duration,
        "firstIndex": first_index, "maxConnections": max_connections,
        "drainSeconds": drain_seconds, "inflightSeconds": inflight_seconds,
        "expectStatus": expect_status,
        "variants": [{"head": r.head, "body": r.body} for r in requests],
    }
    completed = subprocess.run([node_binary(), str(LOADGEN)], input=json.dumps(job),
                               capture_output=True, text=True, check=False,
                               timeout=duration + drain_seconds + inflight_seconds + 60)
    if completed.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{completed.stderr}")
    raw = json.loads(completed.stdout)
    return LoadResult(
        name=name, target_rate=rate, duration=duration, total=raw["total"],
        expected=raw["expected"], statuses=raw["statuses"], errors=raw["errors"],
        samples=raw["samples"], elapsed_seconds=raw["elapsedSeconds"],
        dispatch_lag_p99_ms=raw["dispatchLagMs"]["p99"],
        loadgen_cpu_seconds=raw["cpuSeconds"], peak_connections=raw["peakOpen"],
        peak_backlog=raw["peakBacklog"],
        latencies_ms=sorted(us / 1000 for us in raw["latenciesUs"]),
        worst_ms_by_second=raw["worstMsBySecond"][:math.ceil(duration)],
    )


def process_cpu_seconds(pids: set[int]) -> dict[int, float]:
    """User + system CPU seconds each live process has used so far."""
    seconds = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue  # gone already
        fields = stat[stat.rindex(")") + 2:].split()
        seconds[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return seconds


def child_pids(parent: int) -> set[int]:
    children = set()
    for task in Path(f"/proc/{parent}/task").glob("*"):
        try:
            children.update(int(pid) for pid in (task / "children").read_text().split())
        except OSError:
            continue
    return children


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores together."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / CLOCK_TICKS, sum(values) / CLOCK_TICKS


@dataclass
class CpuShare:
    """Where the machine's CPU went during one scenario, in percent of one core."""

    wall_seconds: float
    machine_busy: float
    machine_capacity: float
    server: float
    database: float
    loadgen: float

    @property
    def other(self) -> float:
        return max(0.0, self.machine_busy - self.server - self.database - self.loadgen)

    @classmethod
    def pooled(cls, shares: list[CpuShare]) -> CpuShare:
        """Several windows as one: each percentage weighted by its window's length."""
        wall = sum(share.wall_seconds for share in shares)

        def mean(name: str) -> float:
            return sum(getattr(share, name) * share.wall_seconds for share in shares) / wall

        return cls(wall_seconds=wall, **{name: mean(name) for name in (
            "machine_busy", "machine_capacity", "server", "database", "loadgen")})


class CpuMeter:
    """Measures CPU use of named process groups between `start()` and `stop()`."""

    def __init__(self, server_pids, database_pids):
        self._server_pids = server_pids
        self._database_pids = database_pids

    def start(self) -> None:
        self._machine = machine_cpu_seconds()
        self._server = process_cpu_seconds(self._server_pids())
        self._database = process_cpu_seconds(self._database_pids())

    def stop(self, wall_seconds: float, loadgen_cpu_seconds: float) -> CpuShare:
        busy, total = machine_cpu_seconds()
        server = process_cpu_seconds(self._server_pids())
        database = process_cpu_seconds(self._database_pids())

        def used(before: dict[int, float], after: dict[int, float]) -> float:
            return sum(value - before.get(pid, 0.0) for pid, value in after.items())

        def percent(seconds: float) -> float:
            return 100 * seconds / wall_seconds

        return CpuShare(
            wall_seconds=wall_seconds,
            machine_busy=percent(busy - self._machine[0]),
            machine_capacity=percent(total - self._machine[1]),
            server=percent(used(self._server, server)),
            database=percent(used(self._database, database)),
            loadgen=percent(loadgen_cpu_seconds),
        )
