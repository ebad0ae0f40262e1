"""Where a gunicorn worker of the service spends its time on one GET endpoint.

Starts the service as the benchmark does (production settings, SQLite or a
throw-away PostgreSQL, 1,000 users by default), drives the path with wrk
using an admin token, samples one worker with py-spy and prints the
functions that hold the most samples, with and without their callees. Idle
time (a sync worker waiting for a connection) is not sampled, so the shares
are of the time the worker was busy.

    python -m bench.profile_me                     # GET /user/me on SQLite
    python -m bench.profile_me --postgres --users 100000 --path "/users?perpage=50"
"""

import argparse
import collections
import contextlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import postgres
from .scenarios import bearer, start_service
from .servers import stop_all
from .wrk import run_wrk

SITE_PACKAGES = "site-packages/"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15, help="how long to sample")
    parser.add_argument("--path", default="/user/me", help="the GET path to drive")
    parser.add_argument("--users", type=int, default=1_000, help="users in the database")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--top", type=int, default=25, help="how many functions to list")
    parser.add_argument("--raw", type=Path, help="keep py-spy's collapsed stacks in this file")
    return parser.parse_args(argv)


def py_spy():
    # Installed into the same virtualenv as the Python that runs this module.
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def sample(server, url, headers, seconds, raw):
    """Drive *url* and, meanwhile, sample one worker; returns collapsed stacks."""
    worker = server.worker_pids()[0]
    command = [py_spy(), "record", "--pid", str(worker), "--duration", str(seconds)]
    command += ["--rate", "200", "--nolineno", "--format", "raw", "--output", str(raw)]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    load = run_wrk(url, seconds + 2, 4, headers)
    _, errors = spy.communicate(timeout=60)
    if spy.returncode != 0:
        raise SystemExit(f"py-spy failed (as root it needs ptrace): {errors}")
    print(f"{url} under load: {load.requests_per_second:.0f} req/s, p50 {load.p50_ms:.2f} ms")
    return raw.read_text().splitlines()


def short(frame):
    """``function (path)`` with the path cut after site-packages/ or the repo root."""
    name, _, path = frame.partition(" (")
    path = path.rstrip(")")
    if SITE_PACKAGES in path:
        path = path.split(SITE_PACKAGES, 1)[1]
    elif path.startswith(str(Path.cwd())):
        path = path[len(str(Path.cwd())) + 1 :]
    return f"{name} ({path})"


def tally(stacks):
    """Samples per function: inclusive (anywhere on the stack) and self (the leaf)."""
    inclusive, own = collections.Counter(), collections.Counter()
    total = 0
    for line in stacks:
        frames, _, count = line.rpartition(" ")
        names = [short(frame) for frame in frames.split(";")]
        total += int(count)
        own[names[-1]] += int(count)
        for name in set(names):
            inclusive[name] += int(count)
    return inclusive, own, total


def print_top(title, counter, total, top, hide_above=1.0):
    print(f"\n{title} (share of busy samples, {total} in all)")
    shown = [(name, count) for name, count in counter.most_common() if count / total <= hide_above]
    for name, count in shown[:top]:
        print(f"  {count / total:6.1%}  {name}")


def main(argv=None):
    args = parse_args(argv)
    if py_spy() is None:
        raise SystemExit("py-spy is not installed: pip install -r bench/requirements.txt")
    with (
        tempfile.TemporaryDirectory(prefix="idm-profile-") as tmp,
        database(args.postgres, Path(tmp)) as uri,
    ):
        server, seed = start_service("idm-profile", uri, args.users, Path(tmp))
        url, headers = server.url + args.path, bearer(seed["admin_token"])
        try:
            server.wait_until_ready()
            run_wrk(url, 2, 4, headers)  # warm up: imports, caches, pool
            stacks = sample(server, url, headers, args.seconds, args.raw or Path(tmp) / "raw")
        finally:
            stop_all([server])
    inclusive, own, total = tally(stacks)
    # gunicorn's worker loop is on every stack; listing it says nothing.
    title = "inclusive: the function and what it calls (frames on >97% omitted)"
    print_top(title, inclusive, total, args.top, hide_above=0.97)
    print_top("self: the function's own code", own, total, args.top)


@contextlib.contextmanager
def database(use_postgres, workdir):
    """The URI of a fresh database: a SQLite file, or a throw-away PostgreSQL cluster."""
    if not use_postgres:
        yield f"sqlite:///{workdir / 'idm.sqlite'}"
        return
    with postgres.cluster() as cluster:
        yield cluster.create_database("idm_profile")


if __name__ == "__main__":
    main()
