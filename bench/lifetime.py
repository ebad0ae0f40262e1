"""``make bench-lifetime``: does a worker's memory grow with the requests it serves?

gunicorn's ``max_requests`` replaces a worker after that many requests, a
guard against slow memory growth that costs a worker start (~0.5 s of CPU)
each time. Whether the guard is needed, and how large it may be, is a
measurement: this serves GET /user/me (the hot path) and POST /auth
failures (the error path, with the audit and throttle rows it writes) from
the service with recycling off, and samples each worker's RSS as the
requests add up.

    python -m bench.lifetime --minutes 10
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from .scenarios import bearer, start_service
from .servers import memory_kib, stop_all
from .wrk import run_wrk


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10, help="how long to serve")
    parser.add_argument("--sample", type=float, default=30, help="seconds between samples")
    return parser.parse_args(argv)


def rss_mib(server):
    return sorted(memory_kib(pid, "VmRSS", "status") / 1024 for pid in server.worker_pids())


def main(argv=None):
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="idm-lifetime-") as work:
        work = Path(work)
        database = f"sqlite:///{work / 'idm.sqlite'}"
        # Recycling off: the point is to see what a worker does without it.
        no_recycling = {"IDM_MAX_REQUESTS": "0"}
        server, seed = start_service("lifetime", database, 1000, work, no_recycling)
        servers = [server]
        try:
            server.wait_until_ready()
            wrong = json.dumps({"username": seed["login"]["username"], "password": "wrong one"})
            served, rows = 0, []
            deadline = time.monotonic() + args.minutes * 60
            rows.append((0, rss_mib(server)))
            while time.monotonic() < deadline:
                token = bearer(seed["admin_token"])
                # The failed logins first: scrypt takes 32 MiB while it hashes,
                # which a sample right after them would count as growth.
                bad = run_wrk(server.url + "/auth", max(1, round(args.sample * 0.1)), 2, body=wrong)
                me = run_wrk(server.url + "/user/me", round(args.sample * 0.9), 8, token)
                served += me.requests + bad.requests
                rows.append((served, rss_mib(server)))
        finally:
            stop_all(servers)
    print(f"{'requests':>12}  worker RSS (MiB)")
    for count, sizes in rows:
        print(f"{count:>12}  " + "  ".join(f"{size:6.1f}" for size in sizes))
    first, last = rows[1][1], rows[-1][1]
    growth = max(b - a for a, b in zip(first, last, strict=False)) if first and last else 0
    span = rows[-1][0] - rows[1][0]
    per_100k = growth / span * 100_000 if span else 0
    print(
        f"growth after warm-up: {growth:+.1f} MiB over {span} requests"
        f" ({per_100k:+.2f} MiB per 100,000)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
