"""Run wrk once against one URL and return what the report needs."""

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("wrk.lua")
MARKER = "BENCH_JSON "


@dataclass
class Measurement:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx/3xx answers plus socket errors


def wrk_path():
    return shutil.which("wrk")


def run_wrk(url, seconds, connections, headers=(), body=None):
    """Drive *url* for *seconds* with *connections* kept busy by one wrk thread.

    One thread is enough to saturate two sync workers here, and every wrk
    thread more takes CPU away from the server it measures.
    """
    command = [wrk_path(), "--threads", "1", "--connections", str(connections)]
    command += ["--duration", f"{seconds}s", "--timeout", "10s", "--script", str(SCRIPT)]
    for header in headers:
        command += ["--header", header]
    env = dict(os.environ, BENCH_BODY=body or "")
    result = subprocess.run(
        [*command, url], env=env, capture_output=True, text=True, timeout=seconds + 30
    )
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed on {url}:\n{result.stdout}{result.stderr}")
    return parse(result.stdout)


def parse(output):
    line = next(line for line in output.splitlines() if line.startswith(MARKER))
    summary = json.loads(line[len(MARKER) :])
    seconds = summary["duration_us"] / 1e6
    return Measurement(
        requests_per_second=summary["requests"] / seconds,
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        requests=summary["requests"],
        errors=summary["status_errors"] + summary["socket_errors"],
    )
