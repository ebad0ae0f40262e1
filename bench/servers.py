"""gunicorn instances under one set of settings, and their workers' memory.

Every app of the benchmark, the service and the baselines alike, runs under
the same command line: as many sync workers as cores, bound to a free
loopback port. When deploy/gunicorn.conf.py exists it is loaded first, so the
benchmark measures the deployed settings; the flags after it pin what must
be equal for a fair comparison.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY_CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
WORKERS = os.cpu_count() or 1


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_command(target, port):
    command = [sys.executable, "-m", "gunicorn"]
    if DEPLOY_CONFIG.exists():
        command += ["--config", str(DEPLOY_CONFIG)]
    command += ["--workers", str(WORKERS), "--worker-class", "sync"]
    return [*command, "--bind", f"127.0.0.1:{port}", target]


def server_environment(extra):
    # FLASK_* variables of the caller's shell would override the settings
    # file (create_app reads them) and could turn debug mode on.
    env = {name: value for name, value in os.environ.items() if not name.startswith("FLASK_")}
    return env | extra


class Server:
    """One gunicorn serving *target* (``module:app`` or ``module:factory()``)."""

    def __init__(self, name, target, env, log_dir):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(log_dir) / f"{name}.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                gunicorn_command(target, self.port),
                cwd=ROOT,
                env=server_environment(env),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_until_ready(self, seconds=60):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name}: gunicorn exited:\n{self.log.read_text()}")
            try:
                urllib.request.urlopen(self.url + "/", timeout=1).close()  # noqa: S310
                return
            except urllib.error.HTTPError:
                return  # any HTTP answer, 404 included, means it serves
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name}: gunicorn did not answer:\n{self.log.read_text()}")

    def worker_pids(self):
        return [pid for pid in all_pids() if parent_pid(pid) == self.process.pid]

    def worker_rss_mib(self):
        """Resident memory of each worker, in MiB (the master forks, never serves)."""
        return sorted(rss_kib(pid) / 1024 for pid in self.worker_pids())

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def all_pids():
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def parent_pid(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None  # the process ended while we looked
    # The command name may hold spaces and parentheses: split after the last ")".
    return int(stat.rpartition(")")[2].split()[1])


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
