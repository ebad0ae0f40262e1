"""``make bench``: the service's speed as ratios against baselines of the same run.

Absolute requests per second say more about the machine and whatever else
runs on it than about the code, so every figure that matters is a ratio of
two scenarios measured in the same run, interleaved round by round (A B C …,
A B C …) so that a burst of background load hits all of them alike, and
reduced to medians. See docs/performance.md for what each ratio means.

    python -m bench.run                  # full run, about a quarter of an hour
    python -m bench.run --quick          # smoke run: tiny durations and user counts
    python -m bench.run --only tokens    # only GET /user/me per algorithm and its baselines
    python -m bench.run --only subjects  # only GET /subject at 1,000 and 100,000 subjects
    python -m bench.iforgot              # only POST /iforgot, known against unknown addresses
"""

import argparse
import contextlib
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

from werkzeug.security import check_password_hash

from . import iforgot, postgres, report
from .scenarios import (
    ALGORITHMS,
    DEFAULT_ALGORITHM,
    check_answer,
    login_scenarios,
    me_scenarios,
    start_baselines,
    start_jwt_ext,
    start_service,
    start_subjects_service,
    subjects_scenarios,
    users_scenario,
)
from .servers import stop_all
from .wrk import run_wrk, wrk_path


@dataclass
class Profile:
    rounds: int
    seconds: int  # per wrk run; wrk takes whole seconds only
    warmup_seconds: int
    small_users: int
    large_users: int
    connections: int
    groups: tuple = ("service", "subjects")
    small_subjects: int = 1_000
    large_subjects: int = 100_000


FULL = Profile(
    rounds=5, seconds=6, warmup_seconds=2, small_users=1_000, large_users=100_000, connections=8
)
QUICK = Profile(
    rounds=2,
    seconds=1,
    warmup_seconds=0,
    small_users=20,
    large_users=200,
    connections=4,
    small_subjects=20,
    large_subjects=200,
)
GROUPS = {
    "service": (
        "/user/me (every signing algorithm), POST /auth and GET /users against their"
        " baselines; POST /iforgot"
    ),
    "tokens": "only GET /user/me with each signing algorithm, and its baselines",
    "subjects": "GET /subject at two sizes, first, last and middle pages",
}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: seconds, not minutes")
    parser.add_argument("--rounds", type=int, help="override the number of interleaved rounds")
    parser.add_argument("--seconds", type=int, help="override the duration of each wrk run")
    parser.add_argument("--json", type=Path, help="also write every measurement to this file")
    parser.add_argument(
        "--only",
        choices=sorted(GROUPS),
        help="run one group of scenarios: " + "; ".join(f"{k}: {v}" for k, v in GROUPS.items()),
    )
    return parser.parse_args(argv)


def choose_profile(args):
    profile = QUICK if args.quick else FULL
    if args.only:
        profile.groups = (args.only,)
    if args.rounds:
        profile.rounds = args.rounds
    if args.seconds:
        profile.seconds = args.seconds
    return profile


def database_uris(workdir, cluster):
    """Per database kind, a function from a name to a fresh database's URI."""
    uris = {"SQLite": lambda name: f"sqlite:///{workdir / name}.sqlite"}
    if cluster is not None:
        uris["PostgreSQL"] = cluster.create_database
    return uris


class Plan(NamedTuple):
    """One service instance to seed and start."""

    database: str
    size: str
    users: int
    name: str
    uri: str
    algorithm: str = DEFAULT_ALGORITHM


def service_plans(profile, workdir, cluster, kind="users"):
    """Per database and size, a database to seed with *kind*: users, or subjects."""
    plans = []
    sizes = {
        "users": (("small", profile.small_users), ("large", profile.large_users)),
        "subjects": (("small", profile.small_subjects), ("large", profile.large_subjects)),
    }[kind]
    prefix = "idm" if kind == "users" else "idm-subjects"
    for database, new_uri in database_uris(workdir, cluster).items():
        for size, count in sizes:
            name = f"{prefix}-{database.lower()}-{count}"
            plans.append(Plan(database, size, count, name, new_uri(name.replace("-", "_"))))
    return plans


def token_plans(profile, workdir, cluster, tokens_only):
    """The default algorithm on SQLite with the small user count (on every database
    and size too, unless *tokens_only*), and each other algorithm on that one."""
    new_sqlite = database_uris(workdir, None)["SQLite"]
    if tokens_only:
        name = f"idm-sqlite-{profile.small_users}"
        plans = [Plan("SQLite", "small", profile.small_users, name, new_sqlite(name))]
    else:
        plans = service_plans(profile, workdir, cluster)
    for algorithm in ALGORITHMS:
        if algorithm != DEFAULT_ALGORITHM:
            name = f"idm-{algorithm.lower()}"
            uri = new_sqlite(name.replace("-", "_"))
            plans.append(Plan("SQLite", "small", profile.small_users, name, uri, algorithm))
    return plans


def start_everything(profile, workdir, cluster, servers):
    """Seed every database, start every gunicorn; return the scenarios in run order."""

    def tracked(start, *args, **kwargs):
        server, seed = start(*args, **kwargs)
        servers.append(server)  # stopped at the end even if another start fails
        return server, seed

    def started(start, plans):
        return pool.map(
            lambda p: tracked(start, p.name, p.uri, p.users, workdir, algorithm=p.algorithm),
            plans,
        )

    service = "service" in profile.groups
    tokens_only = profile.groups == ("tokens",)
    user_plans = []
    if service or tokens_only:
        user_plans = token_plans(profile, workdir, cluster, tokens_only)
    subject_plans = []
    if "subjects" in profile.groups:
        subject_plans = service_plans(profile, workdir, cluster, "subjects")
    # Seeding waits on imports, hashing and disks: all databases at once.
    with ThreadPoolExecutor(len(user_plans) + len(subject_plans) + 1) as pool:
        jwt_ext = user_plans and pool.submit(tracked, start_jwt_ext, profile.small_users, workdir)
        users = list(started(start_service, user_plans))
        subjects = list(started(start_subjects_service, subject_plans))
    scenarios = []
    if user_plans:
        login_service, login_seed = users[0]  # SQLite, small, the default algorithm
        ping, hash_alone = start_baselines(workdir, login_seed["password_hash"])
        servers.extend([ping, hash_alone])
        by_algorithm = {
            plan.algorithm: service
            for plan, service in zip(user_plans, users, strict=True)
            if (plan.database, plan.size) == ("SQLite", "small")
        }
        scenarios = me_scenarios(ping, *jwt_ext.result(), by_algorithm)
    if service:
        scenarios += login_scenarios(login_service, login_seed, hash_alone)
        for plan, (server, seed) in zip(user_plans, users, strict=True):
            if plan.algorithm == DEFAULT_ALGORITHM:
                scenarios.append(users_scenario(plan.database, plan.size, plan.users, server, seed))
    for plan, (server, seed) in zip(subject_plans, subjects, strict=True):
        scenarios += subjects_scenarios(plan.database, plan.size, plan.users, server, seed)
    for server in servers:
        server.wait_until_ready()
    return scenarios


def measure(scenario, seconds, connections):
    result = run_wrk(scenario.url, seconds, connections, scenario.headers, scenario.body)
    # wrk stops, but requests it left queued in the listen backlog still run
    # (seconds of scrypt after POST /auth): let them finish before the next
    # scenario, or they would slow it down.
    scenario.server.wait_until_idle()
    return result


def warm_up(scenarios, profile):
    """Check every scenario answers 2xx, then let every worker import and cache."""
    for scenario in scenarios:
        check_answer(scenario)
        if profile.warmup_seconds:
            measure(scenario, profile.warmup_seconds, profile.connections)


def run_rounds(scenarios, profile):
    """Interleave: every scenario once per round, so background load hits all alike."""
    results = {scenario.key: [] for scenario in scenarios}
    for round_number in range(1, profile.rounds + 1):
        for scenario in scenarios:
            result = measure(scenario, profile.seconds, profile.connections)
            results[scenario.key].append(result)
            print(
                f"round {round_number}/{profile.rounds}  {scenario.label:<45}"
                f" {result.requests_per_second:9.1f} req/s  p50 {result.p50_ms:8.2f} ms",
                file=sys.stderr,
            )
    return results


def in_process_hash_rate(login, seconds=1.0):
    """Password checks per second in this process, on one core, for comparison only."""
    password = json.loads(login.body)["password"]
    stored_hash = login.extra["password_hash"]
    checks, started = 0, time.monotonic()
    while time.monotonic() - started < seconds:
        check_password_hash(stored_hash, password)
        checks += 1
    return checks / (time.monotonic() - started)


@contextlib.contextmanager
def postgres_or_none():
    if not postgres.available():
        print("PostgreSQL (initdb, pg_ctl) not found: PostgreSQL rows skipped", file=sys.stderr)
        yield None
        return
    with postgres.cluster() as cluster:
        yield cluster


@contextlib.contextmanager
def stopping(servers):
    try:
        yield servers
    finally:
        stop_all(servers)


def benchmark(profile):
    """Everything between start and report; returns what the report needs."""
    tokens_only = profile.groups == ("tokens",)  # SQLite only: no PostgreSQL to start
    with (
        tempfile.TemporaryDirectory(prefix="idm-bench-") as tmp,
        contextlib.nullcontext() if tokens_only else postgres_or_none() as cluster,
        stopping([]) as servers,
    ):
        started = time.monotonic()
        scenarios = start_everything(profile, Path(tmp), cluster, servers)
        warm_up(scenarios, profile)
        print(
            f"seeded, started and warmed up in {time.monotonic() - started:.0f} s", file=sys.stderr
        )
        results = run_rounds(scenarios, profile)
        memory = {server.name: server.worker_memory_mib() for server in servers}
    login = next((scenario for scenario in scenarios if scenario.key == "auth"), None)
    return scenarios, results, memory, login and in_process_hash_rate(login)


def main(argv=None):
    args = parse_args(argv)
    if wrk_path() is None:
        raise SystemExit("wrk is not installed: `make bench` installs it as root (apt-get)")
    profile = choose_profile(args)
    started = time.monotonic()
    print(report.machine_description(profile), flush=True)
    scenarios, results, memory, hash_rate = benchmark(profile)
    print(report.render(scenarios, results, memory, profile))
    if hash_rate is not None:
        print(report.hash_rate_note(hash_rate))
    if "subjects" in profile.groups:
        print(report.import_note(scenarios))
    if "service" in profile.groups:
        samples = iforgot.QUICK_SAMPLES if args.quick else iforgot.SAMPLES
        with tempfile.TemporaryDirectory(prefix="idm-bench-iforgot-") as tmp:
            users = 50 if args.quick else iforgot.USERS
            print(iforgot.report_line(iforgot.run(Path(tmp), samples, users)))
    print(f"\nfinished in {time.monotonic() - started:.0f} s; {report.load_average()}")
    if args.json:
        raw = {key: [asdict(result) for result in runs] for key, runs in results.items()}
        args.json.write_text(json.dumps({"results": raw, "worker_memory_mib": memory}, indent=2))
    if report.any_errors(results):
        raise SystemExit("some requests failed: the figures above are not to be trusted")


if __name__ == "__main__":
    main()
