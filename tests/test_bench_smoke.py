"""The benchmark still runs: one short pass of ``python -m bench.run --quick``.

Benchmarks are not tests; this only checks that every server starts, every
scenario answers 2xx (the script fails otherwise) and the table comes out.
"""

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def bench_tools():
    require(shutil.which("wrk") is not None, "wrk (Debian's wrk)")
    flask_jwt = importlib.util.find_spec("flask_jwt_extended") is not None
    require(flask_jwt, "Flask-JWT-Extended (bench/requirements.txt)")


RATIOS = [
    "/user/me vs Flask-JWT-Extended /me",
    "/user/me RS256 (default) vs Flask-JWT-Ext., floor",
    "/user/me ES256 vs Flask-JWT-Extended /me",
    "/user/me EdDSA vs Flask-JWT-Extended /me",
    "/user/me HS256 vs Flask-JWT-Extended /me",
    "/user/me vs bare Flask /ping",
    "POST /auth vs the hash alone",
    "/users p50 at 200 vs 20 users, SQLite",
    "/subject name first page p50 at 200 vs 20, SQLite",
    "/subject changed last page p50 at 200 vs 20, SQLite",
    "largest service worker RSS after the runs",
]


def test_quick_bench_prints_every_scenario_and_ratio():
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=420,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    for scenario in ["GET /ping", "GET /me", "POST /hash", "POST /auth"]:
        assert scenario in result.stdout
    for scenario in [f"GET /user/me {name}" for name in ("RS256", "ES256", "EdDSA", "HS256")]:
        assert scenario in result.stdout
    assert "GET /subject name middle SQLite 200" in result.stdout
    assert "seeded through `flask subjects import`: SQLite 20 subjects in" in result.stdout
    assert re.search(
        r"^POST /iforgot known vs unknown .* difference [+-]\d.* noise .*:"
        r" (below|ABOVE) the noise$",
        result.stdout,
        re.M,
    ), result.stdout
    for ratio in RATIOS:
        line = next(line for line in result.stdout.splitlines() if line.startswith(ratio))
        # A value, its target and a verdict, not "skipped". On a busy machine a
        # 1 s window may end before the first scrypt login does: "no data".
        assert re.search(r"(\d\S*\s+([<>]=\S+\s+(met|MISSED)|-\s+info)|no data)\b", line), line
