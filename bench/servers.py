"""gunicorn instances under one set of settings, and their workers' memory.

Every app of the benchmark, the service and the baselines alike, runs under
the same command line: as many sync workers as cores, bound to a free
loopback port. When deploy/gunicorn.conf.py exists it is loaded first, so the
benchmark measures the deployed settings; the flags after it pin what must
be equal for a fair comparison.
"""

import os
import random
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
    """A free loopback port below the kernel's range for outgoing connections.

    A port that bind(("127.0.0.1", 0)) hands out comes from that range, so
    between choosing it and gunicorn binding it, the client side of some
    connection may take it: under load, gunicorn then fails with
    "Connection in use". Below the range, only another server can.
    """
    first_ephemeral = ephemeral_ports()[0]
    for _ in range(200):
        port = random.randrange(LOWEST_PORT, max(first_ephemeral, LOWEST_PORT + 1))  # noqa: S311 (not a secret)
        if port < first_ephemeral and is_free(port):
            return port
    with socket.socket() as sock:  # no room below the range: any port
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


LOWEST_PORT = 10_000  # above the ports of well-known and registered services in use here


def ephemeral_ports():
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def is_free(port):
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


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

    def worker_memory_mib(self):
        """RSS and PSS of each worker in MiB (the master forks, never serves).

        RSS is what the target is about; PSS shares pages among the processes
        that map them, so it shows what e.g. gunicorn's preload would save.
        """
        return [
            {
                "rss": memory_kib(pid, "VmRSS", "status") / 1024,
                "pss": memory_kib(pid, "Pss", "smaps_rollup") / 1024,
            }
            for pid in self.worker_pids()
        ]

    def worker_cpu_ticks(self):
        return sum(cpu_ticks(pid) for pid in self.worker_pids())

    def wait_until_idle(self, seconds=60, interval=0.1, quiet_intervals=2):
        """Return once the workers have used no CPU for a few intervals in a row.

        More than one interval, so that a worker descheduled by other load in
        the middle of a request is not taken for an idle one.
        """
        deadline = time.monotonic() + seconds
        before, quiet = self.worker_cpu_ticks(), 0
        while quiet < quiet_intervals:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: workers still busy after {seconds} s")
            time.sleep(interval)
            now = self.worker_cpu_ticks()
            quiet = quiet + 1 if now - before <= 1 else 0  # one tick: a heartbeat
            before = now

    def stop(self):
        """Ask gunicorn to stop (graceful: idle sync workers exit within a second)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self):
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def stop_all(servers):
    """Stop every server at once: each graceful stop takes about a second."""
    for server in servers:
        server.stop()
    for server in servers:
        server.wait_stopped()


def all_pids():
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def parent_pid(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None  # the process ended while we looked
    # The command name may hold spaces and parentheses: split after the last ")".
    return int(stat.rpartition(")")[2].split()[1])


def cpu_ticks(pid):
    """User plus system CPU time of *pid* in clock ticks (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat.rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat


def memory_kib(pid, field, proc_file):
    """A ``Name: N kB`` line of /proc/<pid>/<proc_file>."""
    for line in Path(f"/proc/{pid}/{proc_file}").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0
