"""A throw-away PostgreSQL cluster on a free loopback port, for one benchmark run.

PostgreSQL refuses to run as root, so as root the cluster belongs to the
unprivileged user ``nobody``; otherwise to whoever runs the benchmark.
"""

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile

import psycopg

from .servers import free_port

SERVICE_USER = "nobody"


def find_tool(name):
    """initdb and pg_ctl: on PATH, or where Debian's postgresql package puts them."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def available():
    return find_tool("initdb") is not None and find_tool("pg_ctl") is not None


def as_service_user(command):
    if os.geteuid() == 0:
        return ["runuser", "-u", SERVICE_USER, "--", *command]
    return command


class Cluster:
    def __init__(self, port):
        self.port = port

    def create_database(self, name):
        """A new empty database; returns its SQLAlchemy URI (psycopg 3 driver)."""
        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


@contextlib.contextmanager
def cluster():
    """Start a fresh cluster; stop it and delete its files afterwards."""
    data_dir = tempfile.mkdtemp(prefix="idm-bench-pg-")
    if os.geteuid() == 0:
        shutil.chown(data_dir, SERVICE_USER)
    port = free_port()
    # trust on loopback only: a throw-away cluster that lives for one run.
    initdb = [find_tool("initdb"), "-D", data_dir, "-U", "postgres", "--auth=trust"]
    subprocess.run(as_service_user([*initdb, "--no-sync"]), check=True, capture_output=True)
    options = f"-p {port} -k {data_dir} -c listen_addresses=127.0.0.1"
    pg_ctl = [find_tool("pg_ctl"), "-D", data_dir]
    start = [*pg_ctl, "-o", options, "-l", f"{data_dir}/server.log", "-w", "start"]
    subprocess.run(as_service_user(start), check=True, capture_output=True)
    try:
        yield Cluster(port)
    finally:
        stop = [*pg_ctl, "-m", "fast", "-w", "stop"]
        subprocess.run(as_service_user(stop), check=False, capture_output=True)
        shutil.rmtree(data_dir, ignore_errors=True)
