"""Benchmark: instructions per request, counted by callgrind: the steady figure.

Run by hand, from the repository root, with PostgreSQL and Redis up and valgrind installed
(Debian's `valgrind`):

    .venv/bin/python bench/instructions.py                  # 100 requests per scenario
    .venv/bin/python bench/instructions.py --scenario sign --requests 200

bench/submit.py measures what a client sees, but on a shared machine its CPU times drift
by a third from one run to the next with the code unchanged. Instructions don't: callgrind
counts the same total for the same code and inputs whatever else the host runs (two runs
of one tree agree within about 2 %). This is the figure to compare a change with, before
and after; submit.py then says what it does to latency.

What it does:

1. Creates a throwaway database `campaign_bench_<random>`, builds the schema and seeds the
   demo pages, as submit.py does; the app gets Redis keys prefixed `bench-<random>`.
2. For each scenario runs bench/_inprocess.py under `valgrind --tool=callgrind`: the
   requests go straight to the WSGI app in that process (no HTTP server: gunicorn's own
   cost is the same for every request and submit.py's to measure), after a warm-up, and
   only the requests themselves are counted. Scenarios:
   - bare: GET / on the bare Flask app (bench/bare_app.py), the baseline;
   - view: a first visit to an action page (campaign/pages/fast_path.py answers it);
   - view-flask: the same with a query string, through Flask and the view;
   - sign: a signature, a unique email each, through Flask-Limiter on Redis, the form
     and the one SQL statement; its ask for a thank-you run is handed to the process's
     DrainAsker thread, whose Redis `SET NX` callgrind may not count.
   The caches' periods are an hour, so no reload lands in the counted part: what is
   counted is the cost of a request between reloads, which is nearly every request.
3. Prints instructions per request and the ratio to the bare app, then drops the database
   and deletes the run's Redis keys, after an error or Ctrl-C too.

Two scenarios run at a time (the count does not depend on it). Exit status 1 when a run
failed.
"""

from __future__ import annotations

import argparse
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import redis
from _common import (
    ThrowawayDatabase,
    add_server_arguments,
    app_env,
    build_and_seed,
    delete_redis_keys,
)

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("bare", "view", "view-flask", "sign")
# callgrind's summary line in its output file: "summary: <instructions>" (or "totals:").
SUMMARY = re.compile(rb"^(?:summary|totals): (\d+)", re.MULTILINE)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_arguments(parser)
    parser.add_argument("--requests", type=int, default=100,
                        help="counted requests per scenario (each costs about 0.1-0.5 s "
                             "under callgrind)")
    parser.add_argument("--scenario", choices=SCENARIOS, action="append",
                        help="run only this one (may be given more than once)")
    return parser.parse_args()


def count_instructions(scenario: str, requests: int, env: dict[str, str],
                       work_dir: Path) -> int:
    out = work_dir / f"callgrind-{scenario}.out"
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--collect-atstart=no",
         "--toggle-collect=starmap_next", f"--callgrind-out-file={out}",
         sys.executable, str(ROOT / "bench" / "_inprocess.py"), scenario, str(requests)],
        cwd=ROOT, env=env, capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"{scenario} failed:\n{done.stdout.decode(errors='replace')}"
                           f"{done.stderr.decode(errors='replace')[-3000:]}")
    found = SUMMARY.search(out.read_bytes())
    total = int(found.group(1)) if found else 0
    if total == 0:
        raise RuntimeError(f"{scenario}: callgrind counted nothing; does this Python's "
                           "libpython keep its symbols (starmap_next)?")
    return total // requests


def main() -> int:
    args = parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind not found: apt-get install valgrind", file=sys.stderr)
        return 1
    scenarios = args.scenario or list(SCENARIOS)
    if "bare" not in scenarios:
        scenarios.insert(0, "bare")
    run_id = secrets.token_hex(6)
    prefix = f"bench-{run_id}"
    with ExitStack() as stack:
        work_dir = Path(tempfile.mkdtemp(prefix=f"campaign-bench-{run_id}-"))
        stack.callback(shutil.rmtree, work_dir, ignore_errors=True)
        database = ThrowawayDatabase(args.database_server, f"campaign_bench_{run_id}")
        database.create()
        stack.callback(database.drop)
        client = redis.Redis.from_url(args.redis_url)
        stack.callback(delete_redis_keys, client, prefix)
        env = app_env(
            database.url, args.redis_url, prefix, SECRET_KEY=secrets.token_urlsafe(32),
            SIGN_RATE_LIMIT="100000000/minute",  # checked on every POST, never refuses
            BASE_URL="http://127.0.0.1:5000", INSTANCE_PATH=str(work_dir / "instance"),
            PAGE_CACHE_SECONDS="3600", COUNT_CACHE_SECONDS="3600", VIEW_FLUSH_SECONDS="3600")
        try:
            build_and_seed(env)
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            return 1

        print(f"campaign bench/instructions.py  run {run_id}  {args.requests} counted "
              f"requests per scenario, in-process, under callgrind")
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {name: pool.submit(count_instructions, name, args.requests, env,
                                         work_dir) for name in scenarios}
            try:
                counts = {name: future.result() for name, future in futures.items()}
            except RuntimeError as exc:
                print(exc, file=sys.stderr)
                return 1
        bare = counts["bare"]
        print(f"\n{'scenario':12s} {'instructions/request':>21s} {'x bare':>8s}")
        for name in scenarios:
            print(f"{name:12s} {counts[name]:>21,d} {counts[name] / bare:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
