"""The printed result: the machine, medians per scenario, the ratios against targets."""

import os
import platform
import statistics
from dataclasses import dataclass
from pathlib import Path

from .servers import WORKERS, gunicorn_command

RSS_LIMIT_MIB = 60


@dataclass
class Ratio:
    label: str
    numerator: str  # scenario keys
    denominator: str
    metric: str  # "requests_per_second" or "p50_ms"
    target: float | None  # None: shown for comparison, held to nothing
    at_least: bool  # True: the value must reach the target; False: stay below it
    as_percent: bool

    def value(self, medians):
        return medians[self.numerator][self.metric] / medians[self.denominator][self.metric]

    def per_round(self, results):
        """The ratio within each round: how far apart the rounds are says how noisy it was."""
        pairs = zip(results[self.numerator], results[self.denominator], strict=True)
        return [
            getattr(top, self.metric) / getattr(bottom, self.metric)
            for top, bottom in pairs
            if getattr(bottom, self.metric)
        ]

    def met(self, value):
        return value >= self.target if self.at_least else value <= self.target

    def show(self, value):
        return f"{value:.0%}" if self.as_percent else f"{value:.2f}x"


def ratios(profile):
    """The targets of the benchmark, of the groups this run measured."""
    measured = {"service", "tokens"} & set(profile.groups)
    found = service_ratios(profile) if measured else []
    return found + (subject_ratios(profile) if "subjects" in profile.groups else [])


SIZES = ("large", "small")


def subject_ratios(profile):
    """GET /subject, large against small, per database and order: first page, last page."""
    found = []
    sizes = f"{profile.large_subjects:,} vs {profile.small_subjects:,}"
    for database in ("SQLite", "PostgreSQL"):
        for order in ("name", "changed"):
            for page, target in (("first", 1.5), ("last", 3.0)):
                key = f"subjects_{database}_{{}}_{order}_{page}"
                label = f"/subject {order} {page} page p50 at {sizes}, {database}"
                found.append(
                    Ratio(
                        label,
                        key.format("large"),
                        key.format("small"),
                        "p50_ms",
                        target,
                        False,
                        False,
                    )
                )
    return found


def service_ratios(profile):
    """The targets of the service's scenarios (the /users one per database), and
    what each signing algorithm costs on /user/me, for comparison."""
    rps, p50 = "requests_per_second", "p50_ms"
    scaling = f"/users p50 at {profile.large_users:,} vs {profile.small_users:,} users"
    return [
        Ratio("/user/me vs Flask-JWT-Extended /me", "me", "jwt_ext_me", rps, 2.0, True, False),
        Ratio(
            "/user/me RS256 (default) vs Flask-JWT-Ext., floor",
            "me",
            "jwt_ext_me",
            rps,
            1.3,
            True,
            False,
        ),
        *(
            Ratio(
                f"/user/me {name} vs Flask-JWT-Extended /me",
                f"me_{name}",
                "jwt_ext_me",
                rps,
                None,
                True,
                False,
            )
            for name in ("ES256", "EdDSA", "HS256")
        ),
        Ratio("/user/me vs bare Flask /ping", "me", "ping", rps, 0.70, True, True),
        Ratio("POST /auth vs the hash alone", "auth", "hash", rps, 0.95, True, True),
        Ratio(
            f"{scaling}, SQLite", "users_SQLite_large", "users_SQLite_small", p50, 1.2, False, False
        ),
        Ratio(
            f"{scaling}, PostgreSQL",
            "users_PostgreSQL_large",
            "users_PostgreSQL_small",
            p50,
            1.2,
            False,
            False,
        ),
    ]


def medians_of(results):
    return {
        key: {
            "requests_per_second": statistics.median(r.requests_per_second for r in runs),
            "p50_ms": statistics.median(r.p50_ms for r in runs),
            "p99_ms": statistics.median(r.p99_ms for r in runs),
            "errors": sum(r.errors for r in runs),
            "runs": len(runs),
        }
        for key, runs in results.items()
    }


def scenario_table(scenarios, medians):
    lines = [f"{'scenario (median of runs)':<58} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} errors"]
    for scenario in scenarios:
        m = medians[scenario.key]
        lines.append(
            f"{scenario.label:<58} {m['requests_per_second']:9.1f} {m['p50_ms']:8.2f}"
            f" {m['p99_ms']:8.2f} {m['errors']:6d}"
        )
    return lines


WIDTH = 64  # of a ratio's label
RATIO_HEADER = f"{'ratio (of the medians)':<{WIDTH}} {'value':>8} {'target':>8}  verdict  rounds"


def ratio_line(ratio, medians, results):
    if ratio.numerator not in medians or ratio.denominator not in medians:
        return f"{ratio.label:<{WIDTH}} {'-':>8} {'':>8}  skipped"
    if not medians[ratio.denominator][ratio.metric]:
        return f"{ratio.label:<{WIDTH}} {'-':>8} {'':>8}  no data (run longer)"
    value = ratio.value(medians)
    sign = ">=" if ratio.at_least else "<="
    if ratio.target is None:
        target, verdict = "-", "info"
    else:
        target = f"{sign}{ratio.show(ratio.target)}"
        verdict = "met" if ratio.met(value) else "MISSED"
    rounds = ratio.per_round(results)
    spread = f"{ratio.show(min(rounds))}..{ratio.show(max(rounds))}" if rounds else "-"
    return f"{ratio.label:<{WIDTH}} {ratio.show(value):>8} {target:>8}  {verdict:<7}  {spread}"


def memory_line(memory):
    """The largest RSS of any worker of the service, against the target."""
    service_rss = max(
        (
            worker["rss"]
            for name, workers in memory.items()
            if name.startswith("idm-")
            for worker in workers
        ),
        default=0.0,
    )
    verdict = "met" if service_rss <= RSS_LIMIT_MIB else "MISSED"
    label = "largest service worker RSS after the runs (MiB)"
    return f"{label:<{WIDTH}} {service_rss:8.1f} {'<=' + str(RSS_LIMIT_MIB):>8}  {verdict}"


def ratio_table(profile, medians, results, memory):
    lines = [RATIO_HEADER]
    lines += [ratio_line(ratio, medians, results) for ratio in ratios(profile)]
    return [*lines, memory_line(memory)]


def memory_table(memory):
    lines = ["workers after the runs, RSS (PSS) in MiB, per gunicorn:"]
    for name, workers in sorted(memory.items()):
        sizes = "  ".join(f"{worker['rss']:5.1f} ({worker['pss']:4.1f})" for worker in workers)
        lines.append(f"  {name:<24} {sizes}")
    return lines


def render(scenarios, results, memory, profile):
    medians = medians_of(results)
    blocks = [
        scenario_table(scenarios, medians),
        ratio_table(profile, medians, results, memory),
        memory_table(memory),
    ]
    return "\n\n".join("\n".join(block) for block in blocks)


def any_errors(results):
    return any(run.errors for runs in results.values() for run in runs)


def cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def load_average():
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def machine_description(profile):
    command = " ".join(gunicorn_command("<app>", "<port>")[1:])
    return "\n".join(
        [
            f"machine: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}"
            f"; {load_average()}",
            f"every app: {command}  ({WORKERS} sync workers)",
            f"{profile.rounds} interleaved rounds of {profile.seconds} s per scenario,"
            f" wrk 1 thread, {profile.connections} connections",
        ]
    )


def import_note(scenarios):
    """How long seeding took through `flask subjects import`, per database and size."""
    seen = {}
    for scenario in scenarios:
        if scenario.key.startswith("subjects_") and "import_seconds" in scenario.extra:
            label = scenario.label.rsplit(" ", 2)
            seen[f"{label[-2]} {label[-1]}"] = scenario.extra["import_seconds"]
    parts = [f"{where} subjects in {seconds:.1f} s" for where, seconds in seen.items()]
    return "seeded through `flask subjects import`: " + ", ".join(parts)


def hash_rate_note(checks_per_second):
    """Why the HTTP ceiling, not this figure, is the one /auth is held to."""
    return (
        f"for comparison: {checks_per_second:.1f} password checks/s in one process on one core,"
        f" x {WORKERS} workers = {checks_per_second * WORKERS:.1f}/s, a ceiling no HTTP server"
        " reaches here (wrk and gunicorn share the same cores)"
    )
