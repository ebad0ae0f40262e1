"""A throwaway PostgreSQL cluster for the test session, started with initdb/pg_ctl.

The cluster lives in a temporary directory, listens only on 127.0.0.1 on a
free port, and is thrown away (pg_ctl stop -m immediate, rm -rf) at the end.
Durability is switched off (fsync, synchronous_commit, full_page_writes):
nothing in it needs to survive a crash, and it makes the suite much faster.

initdb and the server refuse to run as root, so as root they run as the
unprivileged user ``nobody`` (subprocess's user=/group=, no extra tool
needed) in a directory owned by that user. Every connection goes over TCP
with a password (scram-sha-256), as in production.
"""

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql

from bench.servers import free_port

SUPERUSER = "postgres"
# Debian's postgresql package keeps the server binaries off PATH.
BINARY_DIRS = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin")
FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


def find_binaries():
    """Directory holding initdb and pg_ctl, or None."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return os.path.dirname(os.path.realpath(initdb))
    candidates = sorted(glob.glob(os.path.join(BINARY_DIRS[0], "initdb")), reverse=True)
    candidates += glob.glob(os.path.join(BINARY_DIRS[1], "initdb"))
    for candidate in candidates:
        directory = os.path.dirname(candidate)
        if os.access(os.path.join(directory, "pg_ctl"), os.X_OK):
            return directory
    return None


class PostgresCluster:
    """initdb + pg_ctl start; create_database()/drop_database() per test."""

    def __init__(self, bindir):
        self.bindir = bindir
        self.port = free_port()
        self.password = secrets.token_hex(16)
        self.dir = Path(tempfile.mkdtemp(prefix="idm-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.owner = unprivileged_owner()
        if self.owner:
            os.chown(self.dir, *self.owner)

    def run(self, *command):
        """Run a server binary as the cluster's owner; raise with its output."""
        user, group = self.owner or (None, None)
        result = subprocess.run(
            [os.path.join(self.bindir, command[0]), *command[1:]],
            user=user,
            group=group,
            extra_groups=[] if self.owner else None,
            env=dict(os.environ, HOME=str(self.dir), LC_ALL="C"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{command[0]} failed:\n{result.stdout}{result.stderr}{log}")

    def start(self):
        pwfile = self.dir / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self.owner:
            os.chown(pwfile, *self.owner)
        self.run(
            "initdb", "-D", str(self.data), "-U", SUPERUSER, "--pwfile", str(pwfile),
            "--auth", "scram-sha-256", "-E", "UTF8", "--no-instructions",
        )  # fmt: skip
        pwfile.unlink()
        options = [f"-p {self.port}", "-c listen_addresses=127.0.0.1"]
        options.append(f"-c unix_socket_directories={self.dir}")
        options += [f"-c {name}={value}" for name, value in FAST_SETTINGS.items()]
        self.run(
            "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data),
            "-l", str(self.log), "-o", " ".join(options),
        )  # fmt: skip
        return self

    def stop(self):
        try:
            self.run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def uri(self, database, user=SUPERUSER, password=None, driver="postgresql+psycopg"):
        password = password or self.password
        return f"{driver}://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def admin_connection(self):
        """Autocommit connection as the superuser: CREATE/DROP DATABASE need it."""
        return psycopg.connect(self.uri("postgres", driver="postgresql"), autocommit=True)

    def create_database(self, owner=SUPERUSER, name=None):
        name = name or "test_" + secrets.token_hex(6)
        with self.admin_connection() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(owner)
                )
            )
        return name

    def drop_database(self, name):
        # FORCE ends connections a test left open (a gunicorn, a pool).
        with self.admin_connection() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def create_role(self, name, password):
        """A login role like the one DEPLOY.md has the operator create."""
        with self.admin_connection() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(password)
                )
            )

    def drop_role(self, name):
        with self.admin_connection() as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def unprivileged_owner():
    """(uid, gid) of ``nobody`` when running as root, else None."""
    if os.geteuid() != 0:
        return None
    nobody = pwd.getpwnam("nobody")
    return nobody.pw_uid, nobody.pw_gid
