"""The shipped deploy/ files agree with each other (fast; test_deploy.py runs them)."""

import configparser
import os
import re
import runpy
import subprocess
import sys
import types

from conftest import ROOT
from deploy_stack import CRON_JOB, doc_blocks, run_script, substitute, user_names
from flask import Flask

from idm.config import secret_key_weakness
from idm.mail import sender

DEPLOY = ROOT / "deploy"


def gunicorn_settings(monkeypatch, **env):
    # PROMETHEUS_MULTIPROC_DIR too: the file sets it, and it must not leak
    # into this process or the gunicorns that later tests start.
    names = ("IDM_BIND", "IDM_MAX_WORKERS", "IDM_FORWARDED_ALLOW_IPS", "PROMETHEUS_MULTIPROC_DIR")
    for name in names:
        # Set first, so that monkeypatch restores the variable's absence too
        # (a delenv of an unset variable records nothing to undo).
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))


def test_workers_follow_the_cores_up_to_the_cap(monkeypatch):
    by_cores = 2 * os.cpu_count() + 1
    assert gunicorn_settings(monkeypatch)["workers"] == min(by_cores, 8)
    assert gunicorn_settings(monkeypatch, IDM_MAX_WORKERS="2")["workers"] == min(by_cores, 2)


def test_bind_and_trusted_proxies_come_from_the_environment(monkeypatch):
    default = gunicorn_settings(monkeypatch)
    assert default["bind"] == ["127.0.0.1:8000"]
    assert default["forwarded_allow_ips"] == "127.0.0.1,::1"
    chosen = gunicorn_settings(
        monkeypatch, IDM_BIND="10.0.0.12:8000", IDM_FORWARDED_ALLOW_IPS="10.0.0.2"
    )
    assert chosen["bind"] == ["10.0.0.12:8000"]
    assert chosen["forwarded_allow_ips"] == "10.0.0.2"


def test_access_log_has_the_request_id_and_no_query_string(monkeypatch):
    log_format = gunicorn_settings(monkeypatch)["access_log_format"]
    assert "%({x-request-id}i)s" in log_format
    assert "%(U)s" in log_format  # the path alone: reset links carry a token in the query
    assert "%(r)s" not in log_format and "%(q)s" not in log_format


def systemd_unit():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    # systemd allows a key several times (Environment=), configparser does not:
    # those lines are read apart.
    lines = (DEPLOY / "systemd" / "idm.service").read_text().splitlines()
    environment = [ln.split("=", 1)[1] for ln in lines if ln.startswith("Environment=")]
    unit.read_string("\n".join(ln for ln in lines if not ln.startswith("Environment=")))
    return unit["Service"], dict(item.split("=", 1) for item in environment)


def supervisor_program():
    config = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";",))
    config.read(DEPLOY / "supervisor" / "idm.conf")
    program = config["program:idm"]
    pairs = (item.split("=", 1) for item in program["environment"].split(","))
    return program, {name: value.strip('"') for name, value in pairs}


def test_supervisor_and_systemd_run_the_same_service():
    service, service_env = systemd_unit()
    program, program_env = supervisor_program()
    assert service["ExecStart"] == program["command"]
    assert service["WorkingDirectory"] == program["directory"]
    assert service["User"] == program["user"]
    assert service_env == program_env
    # Both wait longer than gunicorn's graceful_timeout before killing.
    assert int(program["stopwaitsecs"]) > 30 and service["TimeoutStopSec"] == "35"


def test_each_worker_starts_its_mail_sender_at_boot(monkeypatch, make_app):
    app = make_app(IDM_MAIL_SENDER_THREAD=True)
    worker = types.SimpleNamespace(wsgi=app)  # what gunicorn hands the hook

    gunicorn_settings(monkeypatch)["post_worker_init"](worker)

    assert sender.slot(app).is_running()  # no request has come


def test_the_sender_hook_leaves_other_apps_alone(monkeypatch):
    """bench/ runs its baseline apps (bare Flask) under this file too."""
    worker = types.SimpleNamespace(wsgi=Flask("baseline"))

    gunicorn_settings(monkeypatch)["post_worker_init"](worker)  # no KeyError

    assert sender.EXTENSION_KEY not in worker.wsgi.extensions


def test_the_sender_hook_imports_nothing_of_ours_for_other_apps():
    """A baseline's worker must not carry the service's imports (memory, boot time)."""
    script = (
        "import runpy, sys, types\n"
        "from flask import Flask\n"
        f"hook = runpy.run_path({str(DEPLOY / 'gunicorn.conf.py')!r})['post_worker_init']\n"
        "hook(types.SimpleNamespace(wsgi=Flask('baseline')))\n"
        "ours = ('idm', 'sqlalchemy')\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ours))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_cron_reads_every_line_of_the_cron_file():
    text = (DEPLOY / "cron" / "idm").read_text()
    assert text.endswith("\n")  # cron drops a last line without its newline
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[A-Z]+=\S+", line) or CRON_JOB.fullmatch(line), line
    # A job's user is the service's or PostgreSQL's, never root.
    users = {match[3] for match in map(CRON_JOB.fullmatch, text.splitlines()) if match}
    assert users == {"idm", "postgres"}


def test_step_5_installs_the_settings_with_a_generated_secret_key(tmp_path):
    """DEPLOY.md's commands, as written: the file the service then refuses nothing in."""
    (block,) = doc_blocks("5. settings.py")
    user, group = user_names()
    script = substitute(
        block,
        {
            "-o root -g idm": f"-o {user} -g {group}",
            "/etc/idm": str(tmp_path / "etc"),
            "/srv/idm/app": str(ROOT),
        },
    )
    run_script(script, os.environ)

    settings = {}
    exec((tmp_path / "etc" / "settings.py").read_text(), settings)
    assert secret_key_weakness(settings["SECRET_KEY"]) is None
    example = {}
    exec((ROOT / "settings.example.py").read_text(), example)
    assert secret_key_weakness(example["SECRET_KEY"]) == "a placeholder"
