"""gunicorn settings for the IDM service (see DEPLOY.md).

    gunicorn --config deploy/gunicorn.conf.py app:app

The file stays as shipped; what differs between hosts comes from the
environment, which the supervisor program (deploy/supervisor/idm.conf) or
the systemd unit (deploy/systemd/idm.service) sets.
"""

import os
import shutil
import tempfile


def env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


# Loopback by default: only the Nginx on this host should reach gunicorn. On
# a scaled-out host behind a remote Nginx, bind to the private address.
bind = os.environ.get("IDM_BIND", "127.0.0.1:8000").split(",")

# Sync workers, one request each at a time. Password hashing (scrypt) is CPU
# bound, so about two per core plus one keeps the cores busy while some wait
# on the database. The cap keeps a large host from opening more PostgreSQL
# connections than the server allows (each worker holds its own pool).
workers = min(2 * (os.cpu_count() or 1) + 1, env_int("IDM_MAX_WORKERS", 8))

# A worker silent for this long is killed and replaced: no request of this
# service should take more than a few seconds. Nginx waits a bit longer
# (proxy_read_timeout 35s) so that it sees gunicorn's answer, not its own.
timeout = 30
# On stop or reload, requests in flight get this long to finish; supervisor's
# stopwaitsecs and systemd's TimeoutStopSec are longer still.
graceful_timeout = 30

# Recycle a worker after this many requests, as a guard against memory growth
# in a path nobody measured. Measured (make bench-lifetime, docs/performance.md):
# a worker's RSS stays flat, +0.2 MiB over 655,000 requests of GET /user/me
# and failed POST /auth with recycling off, so the guard can be rare. At
# 1,000,000, under the benchmark's full load (about 1,350 requests/s over two
# workers) each worker is replaced about every 25 minutes, a start costing
# about 0.5 s of CPU (0.03 %); at ordinary rates it lives for weeks.
# IDM_MAX_REQUESTS=0 turns the guard off.
max_requests = env_int("IDM_MAX_REQUESTS", 1_000_000)
max_requests_jitter = 100_000

# The longest request line (method, path and query string) gunicorn takes:
# its maximum, because Nginx in front passes lines up to 8 KiB (its
# large_client_header_buffers) and refuses longer ones itself, in JSON. At
# gunicorn's default (4094 bytes) a longer URL that Nginx let through got
# gunicorn's own HTML 414 instead of the app's JSON answer.
limit_request_line = 8190

# Believe X-Forwarded-Proto only from our own Nginx. The app itself reads
# X-Forwarded-For/-Host/-Proto through IDM_PROXY_COUNT; both must agree.
forwarded_allow_ips = os.environ.get("IDM_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Access and error log to stdout/stderr: supervisor writes them to
# /var/log/idm/gunicorn.log, systemd to the journal. The request id comes
# from Nginx (X-Request-ID), so one request can be followed through both
# logs. The path is logged without its query string: reset links carry
# their token there.
accesslog = "-"
errorlog = "-"
access_log_format = (
    'rid=%({x-request-id}i)s client=%({x-forwarded-for}i)s "%(m)s %(U)s %(H)s" '
    '%(s)s %(B)s %(M)sms "%(a)s"'
)

# Shows as "gunicorn: master [idm]" in ps; several instances on one host can
# tell themselves apart.
proc_name = os.environ.get("IDM_PROC_NAME", "idm")

# gunicorn's runtime control socket would default to one path per user, which
# two instances on one host would fight over; supervisor/systemd control us.
control_socket_disable = True


# Prometheus metrics (idm/metrics.py): each worker writes its counts to files
# in this directory, and /metrics on any worker adds them all up. A fresh
# directory per start of the master, set before any worker imports
# prometheus_client; the workers inherit it.
# An operator may name one instead (it must be empty at start).
metrics_dir_made_here = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if metrics_dir_made_here:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="idm-metrics-")


def on_exit(server):
    if metrics_dir_made_here:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def child_exit(server, worker):
    """A worker that ended: its gauges stop counting (counters keep what it counted)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """Start the worker's mail sender at boot rather than at its first request,
    so mail queued before a restart goes out even while nobody calls."""
    # bench/ serves its baseline apps with this file too: only ours has a
    # sender, and theirs must not pay for importing ours.
    if "IDM_MAIL_SENDER_THREAD" not in getattr(worker.wsgi, "config", {}):
        return
    from idm.mail import sender

    sender.start(worker.wsgi)
