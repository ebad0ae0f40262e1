"""DEPLOY.md on loopback: PostgreSQL, migrations, supervisor + gunicorn, Nginx + TLS.

The shipped files in deploy/ and the shell blocks of DEPLOY.md are used as
they are, with only the paths, ports, users and host names of this machine
put in (``substitute`` insists that each placeholder is still there, so a
changed file cannot silently escape the test). Everything listens on
127.0.0.1 on free high ports; Nginx runs as root in the foreground with its
own prefix, pid and log files.
"""

import grp
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import log_secrets
import pytest
from conftest import FAST_HASH, ROOT, free_port, upgrade_schema
from https_client import Browser, NoRedirects, parse_json
from pg_cluster import SUPERUSER, find_binaries

DEPLOY = ROOT / "deploy"
DEPLOY_MD = ROOT / "DEPLOY.md"
CRON_FILE = DEPLOY / "cron" / "idm"
ADMIN = ("admin@example.org", "admin password 1")
TOOLS = {
    "nginx": "nginx",
    "supervisord": "supervisor",
    "supervisorctl": "supervisor",
    "openssl": "openssl",  # makes the self-signed certificate
    "pg_dump": "postgresql-client",
    "pg_restore": "postgresql-client",
    "createdb": "postgresql-client",
    "dropdb": "postgresql-client",
    "sqlite3": "sqlite3",
}
# A job line of a cron file, "#" in front when it is there to be enabled:
# five time fields, the user, the command.
CRON_JOB = re.compile(r"(#?)((?:[0-9*][^ ]* ){5})(\S+) (.+)")


def find_tool(name):
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def missing_tools():
    """Debian packages whose programs this machine lacks."""
    missing = {package for tool, package in TOOLS.items() if not find_tool(tool)}
    if find_binaries() is None:  # initdb and pg_ctl, off PATH on Debian
        missing.add("postgresql")
    return sorted(missing)


def require_tools():
    missing = missing_tools()
    if missing:
        pytest.fail(
            f"Debian packages missing: {', '.join(missing)} "
            "(make test installs them when run as root)"
        )


def credentials(pair):
    return {"username": pair[0], "password": pair[1]}


def init_first_admin(site):
    """DEPLOY.md: open https://<host>/init and create the first admin."""
    browser = site.browser()
    status, page = browser.get("/init")
    assert status == 200 and 'name="password2"' in page
    fields = {"username": ADMIN[0], "password": ADMIN[1], "password2": ADMIN[1]}
    status, page = browser.submit("/init", fields, page)
    assert status == 201, page


def substitute(text, replacements):
    for old, new in replacements.items():
        assert old in text, f"deploy file no longer contains {old!r}: update the test"
        text = text.replace(old, new)
    return text


def doc_blocks(*headings):
    """The ```sh blocks of DEPLOY.md under a "## " heading (and a "### " in it)."""
    text = DEPLOY_MD.read_text()
    for level, heading in enumerate(headings, start=2):
        line = f"{'#' * level} {heading}\n"
        assert line in text, f"DEPLOY.md has no heading {line.strip()!r}: update the test"
        text = text.split(line, 1)[1]
        text = re.split(rf"\n#{{2,{level}}} ", text, maxsplit=1)[0]
    return re.findall(r"```sh\n(.*?)```", text, re.S)


def run_script(script, env, cwd="/"):
    """Run shell commands with bash, stopping at the first that fails; their output."""
    command = ["bash", "-euo", "pipefail", "-c", script]
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"failed:\n{script}\n{done.stdout}{done.stderr}"
    return done.stdout


def cron_jobs(enabled=True):
    """(user, command) of each job in deploy/cron/idm, the command as cron runs it.

    ``enabled=False``: the jobs written with a "#" in front, for the operator
    to enable instead of another. cron ends a command at a bare % (what
    follows is its input) and passes \\% on as %.
    """
    jobs = []
    for line in CRON_FILE.read_text().splitlines():
        match = CRON_JOB.fullmatch(line)
        if match and (match[1] == "") == enabled:
            command = match[4]
            assert not re.search(r"(?<!\\)%", command), f"bare % in a cron job: {line}"
            jobs.append((match[3], command.replace("\\%", "%")))
    return jobs


def user_names(ids=None):
    """(user, group) names of (uid, gid) *ids*, or of this process."""
    uid, gid = ids or (os.getuid(), os.getgid())
    return pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name


def wait_until(check, what, seconds=60, logs=lambda: ""):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{logs()}")


def self_signed_certificate(directory):
    """A throwaway certificate for 127.0.0.1, made with the openssl command."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=idm test",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


class Host:
    """One gunicorn instance: a supervisor program on its own port."""

    def __init__(self, name, port):
        self.name, self.port = name, port
        self.url = f"http://127.0.0.1:{port}"


class Deployment:
    """The whole stack of DEPLOY.md, for *hosts* gunicorn instances.

    As in DEPLOY.md, the database and its role are ``idm``, and so is the
    supervisor program of a single host; several are ``idm-0``, ``idm-1``…
    """

    def __init__(self, directory, postgres, hosts=1, settings=""):
        self.dir = Path(directory)
        self.postgres = postgres
        self.logs_dir = self.dir / "log"
        self.logs_dir.mkdir()
        names = ["idm"] if hosts == 1 else [f"idm-{i}" for i in range(hosts)]
        self.hosts = [Host(name, free_port()) for name in names]
        self.https_port, self.http_port = free_port(), free_port()
        self.public_url = f"https://127.0.0.1:{self.https_port}"
        self.cert, self.key = self_signed_certificate(self.dir)
        self.tls = ssl.create_default_context(cafile=str(self.cert))
        self.processes = []
        self.database = self.db_user = None
        try:
            self.create_database()
            self.write_settings(settings)
            upgrade_schema(dict(os.environ, IDM_SETTINGS=str(self.settings)))
            self.start_supervisor()
            self.start_nginx()
        except BaseException:
            self.stop()
            raise

    # --- DEPLOY.md: database, settings.py, flask db upgrade -------------------

    def create_database(self):
        """The role and database the operator creates, owned by the service."""
        self.db_password = secrets.token_hex(16)
        self.db_user = "idm"
        self.postgres.create_role(self.db_user, self.db_password)
        self.database = self.postgres.create_database(owner=self.db_user, name="idm")

    # --- DEPLOY.md: backups, as user postgres ---------------------------------

    def postgres_user(self):
        """(user, group) names of DEPLOY.md's ``postgres``: whoever runs the cluster."""
        return user_names(self.postgres.owner)

    def as_postgres(self):
        """What DEPLOY.md's ``sudo -u postgres `` becomes: run as the cluster's user."""
        return f"runuser -u {self.postgres_user()[0]} -- " if self.postgres.owner else ""

    def client_env(self, base=None):
        """*base* (the test's environment) for PostgreSQL's programs as the superuser.

        On the host, ``postgres`` gets in over the local socket (peer
        authentication); the test's cluster wants TCP and a password.
        """
        base = os.environ if base is None else base
        return dict(
            base,
            PATH=f"{base['PATH']}:{self.postgres.bindir}",
            PGHOST="127.0.0.1",
            PGPORT=str(self.postgres.port),
            PGUSER=SUPERUSER,
            PGPASSWORD=self.postgres.password,
        )

    def write_settings(self, extra):
        uri = self.postgres.uri(self.database, self.db_user, self.db_password)
        self.settings = self.dir / "settings.py"
        self.settings.write_text(
            f"SECRET_KEY = {secrets.token_urlsafe(48)!r}\n"
            f"SQLALCHEMY_DATABASE_URI = {uri!r}\n"
            f"IDM_PUBLIC_URL = {self.public_url!r}\n"
            "IDM_PROXY_COUNT = 1\n"
            "SESSION_COOKIE_SECURE = True\n"
            # Tests only: production keeps scrypt.
            f"IDM_PASSWORD_HASH_METHOD = {FAST_HASH!r}\n" + extra
        )

    # --- DEPLOY.md: supervisor ------------------------------------------------

    def program_file(self, host):
        shipped = (DEPLOY / "supervisor" / "idm.conf").read_text()
        return substitute(
            shipped,
            {
                "[program:idm]": f"[program:{host.name}]",
                "/srv/idm/venv": sys.prefix,
                "/srv/idm/app": str(ROOT),
                "user=idm": "user=root",
                "/etc/idm/settings.py": str(self.settings),
                "127.0.0.1:8000": f"127.0.0.1:{host.port}",
                # Two workers each: this machine runs the suite beside them.
                'IDM_BIND="': f'IDM_MAX_WORKERS="2",IDM_PROC_NAME="{host.name}",IDM_BIND="',
                "/var/log/idm": str(self.logs_dir),
            },
        )

    def start_supervisor(self):
        programs = self.dir / "supervisor.d"
        programs.mkdir()
        for host in self.hosts:
            (programs / f"{host.name}.conf").write_text(self.program_file(host))
        self.supervisor_conf = self.dir / "supervisord.conf"
        self.supervisor_conf.write_text(
            "[supervisord]\n"
            f"logfile={self.logs_dir}/supervisord.log\npidfile={self.dir}/supervisord.pid\n"
            f"childlogdir={self.logs_dir}\nuser=root\n"
            f"[unix_http_server]\nfile={self.dir}/supervisor.sock\n"
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
            f"[supervisorctl]\nserverurl=unix://{self.dir}/supervisor.sock\n"
            f"[include]\nfiles = {programs}/*.conf\n"
        )
        command = [find_tool("supervisord"), "--nodaemon", "-c", str(self.supervisor_conf)]
        self.start(command, "supervisord.out")
        for host in self.hosts:
            wait_until(lambda h=host: self.answers(h.url + "/status"), host.name, logs=self.logs)

    def supervisorctl_command(self):
        """DEPLOY.md's ``supervisorctl``, for this stack's supervisord."""
        return f"{find_tool('supervisorctl')} -c {self.supervisor_conf}"

    def supervisorctl(self, *args):
        command = [find_tool("supervisorctl"), "-c", str(self.supervisor_conf), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60).stdout

    def master_pid(self, host):
        """gunicorn master's pid as supervisor knows it; 0 when not running."""
        output = self.supervisorctl("pid", host.name).strip()
        return int(output) if output.isdigit() else 0

    def serving_master(self, host):
        """Pid of the master that supervisor runs and that holds the port, or 0.

        After kill -9 of a master its workers live on until they notice (up
        to half of gunicorn's timeout) and keep the port; the new master
        retries binding until they are gone, and logs when it has it.
        """
        pid = self.master_pid(host)
        listening = f"Listening at: http://127.0.0.1:{host.port} ({pid})"
        return pid if pid and listening in self.log_text("gunicorn.log") else 0

    # --- DEPLOY.md: Nginx -----------------------------------------------------

    def site_file(self):
        shipped = (DEPLOY / "nginx" / "idm.conf").read_text()
        upstream = "".join(f"    server 127.0.0.1:{h.port};\n" for h in self.hosts)
        return substitute(
            shipped,
            {
                "    server 127.0.0.1:8000;\n": upstream,
                "    listen 80;\n": f"    listen 127.0.0.1:{self.http_port};\n",
                "    listen 443 ssl http2;\n": f"    listen 127.0.0.1:{self.https_port} ssl;\n",
                "    listen [::]:80;\n": "",
                "    listen [::]:443 ssl http2;\n": "",
                "/etc/letsencrypt/live/idm.example.org/fullchain.pem": str(self.cert),
                "/etc/letsencrypt/live/idm.example.org/privkey.pem": str(self.key),
                "/var/log/nginx": str(self.logs_dir),
                "/srv/idm/app": str(ROOT),
            },
        )

    def start_nginx(self):
        prefix = self.dir / "nginx"
        prefix.mkdir()
        (prefix / "idm.conf").write_text(self.site_file())
        # The main file that Debian's /etc/nginx/nginx.conf would be.
        (prefix / "nginx.conf").write_text(
            f"user root;\nworker_processes 1;\npid {prefix}/nginx.pid;\n"
            f"error_log {self.logs_dir}/nginx-main.error.log;\n"
            "events { worker_connections 256; }\n"
            "http {\n  include /etc/nginx/mime.types;\n"
            f"  access_log {self.logs_dir}/nginx-main.access.log;\n"
            f"  include {prefix}/idm.conf;\n}}\n"
        )
        command = [find_tool("nginx"), "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf")]
        command += ["-e", str(self.logs_dir / "nginx-start.log"), "-g", "daemon off;"]
        self.start(command, "nginx.out")
        wait_until(lambda: self.answers(self.public_url + "/"), "nginx", logs=self.logs)

    # --- running and stopping -------------------------------------------------

    def start(self, command, log_name):
        with open(self.logs_dir / log_name, "wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def stop(self):
        # Nginx first, then supervisord, which stops its gunicorns on TERM.
        for process in reversed(self.processes):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=45)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for path in sorted(self.logs_dir.iterdir()):
            log_secrets.append(path)
        if self.database:
            self.postgres.drop_database(self.database)
        if self.db_user:
            self.postgres.drop_role(self.db_user)

    def logs(self):
        parts = []
        for path in sorted(self.logs_dir.iterdir()):
            parts.append(f"--- {path.name}\n" + path.read_text(errors="replace")[-3000:])
        return "\n".join(parts)

    def log_text(self, name):
        return (self.logs_dir / name).read_text(errors="replace")

    def answers(self, url):
        try:
            urllib.request.urlopen(url, timeout=2, context=self.tls).close()
            return True
        except urllib.error.HTTPError:
            return True  # any HTTP answer means it is serving
        except OSError:
            return False

    # --- clients --------------------------------------------------------------

    def call(self, url, method="GET", body=None, token=None, data=None):
        """(status, headers, JSON body) of one request; HTTPS verified against our cert."""
        request = urllib.request.Request(url, method=method, data=data)
        if body is not None:
            request.add_header("Content-Type", "application/json")
            request.data = json.dumps(body).encode()
        if token:
            request.add_header("Authorization", "JWT " + token)
        opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=self.tls), NoRedirects()
        )
        try:
            with opener.open(request, timeout=30) as response:
                status, headers, raw = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, headers, raw = error.code, error.headers, error.read()
        log_secrets.note_request(url, request.data)
        log_secrets.note_response(headers, raw)
        return status, headers, parse_json(raw)

    def https(self, path, *args, **kwargs):
        return self.call(self.public_url + path, *args, **kwargs)

    def login(self, url, username, password):
        status, _, body = self.call(
            url + "/auth", "POST", {"username": username, "password": password}
        )
        assert status == 200, body
        return body["access_token"]

    def browser(self):
        return Browser(self.public_url, self.tls)
