"""What an operator watches: Prometheus metrics, counted in every worker.

The metrics are prometheus_client's. Under gunicorn each worker is its own
process, so they are kept in prometheus_client's multiprocess mode: each
worker writes its values to files in ``PROMETHEUS_MULTIPROC_DIR`` (made per
start by deploy/gunicorn.conf.py), and a scrape of ``/metrics`` on any
worker adds up all of them. Without that variable (the development server,
``flask`` commands, the tests' own app) the metrics live in the process.

Counters are incremented where the event happens (users.authenticate for
logins, lockout.py for locks, …). Figures that the database knows (the
outbox, subjects) are read when Prometheus scrapes, so they are right
whichever worker answers and however many hosts there are.

Who may read them: ``/metrics`` answers requests from the addresses in
``IDM_METRICS_ALLOW_FROM`` (loopback by default: a Prometheus on the host),
or with ``Authorization: Bearer <IDM_METRICS_TOKEN>`` from anywhere. The
figures hold no secret, but they tell an attacker how a brute-force attempt
is going.
"""

import hmac
import ipaddress
import os

from flask import current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import event, func, select
from sqlalchemy.pool import Pool
from werkzeug.exceptions import Forbidden

from . import clock

# prometheus_client chose how to keep values when it was imported, just
# above: in files when this variable was set then (a gunicorn worker), in
# memory otherwise. A scrape must read them the same way.
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

REQUESTS = Counter(
    "idm_http_requests_total", "Requests answered, by route template and status.",
    ["method", "route", "status"],
)  # fmt: skip
LATENCY = Histogram(
    "idm_http_request_duration_seconds", "Time from request to answer, by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)  # fmt: skip
LOGINS = Counter("idm_logins_total", "Password logins, by outcome.", ["outcome"])
LOCKOUTS = Counter("idm_lockouts_total", "Locks started after failed attempts, by what.", ["what"])
THROTTLED = Counter("idm_throttled_total", "Requests refused or dropped by a limit.", ["kind"])
RESET_REQUESTS = Counter(
    "idm_reset_requests_total", "Password-reset requests, by outcome.", ["outcome"]
)
TOKENS = Counter("idm_tokens_total", "Access tokens, by event.", ["event"])
DELIVERIES = Counter("idm_mail_deliveries_total", "Delivery attempts, by outcome.", ["outcome"])
POOL_CHECKED_OUT = Gauge(
    "idm_db_pool_checked_out", "Database connections in use, summed over live workers.",
    multiprocess_mode="livesum",
)  # fmt: skip


@event.listens_for(Pool, "checkout")
def connection_taken(*_args):
    POOL_CHECKED_OUT.inc()


@event.listens_for(Pool, "checkin")
def connection_returned(*_args):
    POOL_CHECKED_OUT.dec()


class DatabaseFigures:
    """Read at scrape time from the shared database: the same on every worker and host."""

    def collect(self):
        from .mail import outbox
        from .models import Subject, db
        from .study.state import STATUSES, status

        depth, oldest = outbox.waiting()
        yield GaugeMetricFamily("idm_outbox_depth", "Emails waiting to be sent.", value=depth)
        age = (clock.now() - oldest).total_seconds() if oldest is not None else 0
        yield GaugeMetricFamily(
            "idm_outbox_oldest_age_seconds", "Age of the oldest email still waiting.", value=age
        )
        # One GROUP BY over the status's one definition (idm/study/state.py).
        by_status = select(status, func.count()).select_from(Subject).group_by(status)
        counts = dict(db.session.execute(by_status).all())
        subjects = GaugeMetricFamily(
            "idm_subjects", "Study subjects, by the latest stage reached.", labels=["status"]
        )
        for name in STATUSES:
            subjects.add_metric([name], counts.get(name, 0))
        yield subjects
        db.session.rollback()


def exposition():
    """(body, content type) of a scrape: every worker's metrics plus the database's."""
    if MULTIPROCESS:
        workers = CollectorRegistry()
        multiprocess.MultiProcessCollector(workers)
    else:
        workers = REGISTRY  # this process is the whole service
    database = CollectorRegistry()
    database.register(DatabaseFigures())
    return generate_latest(workers) + generate_latest(database), CONTENT_TYPE_LATEST


def check_access():
    """Forbidden unless the caller has the metrics token or comes from an allowed address."""
    config = current_app.config
    token = config["IDM_METRICS_TOKEN"]
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        if hmac.compare_digest(header[len("Bearer ") :].encode(), token.encode()):
            return
        raise Forbidden("wrong metrics token")
    allowed = [ipaddress.ip_network(net, strict=False) for net in config["IDM_METRICS_ALLOW_FROM"]]
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        address = None
    if address is None or not any(address in network for network in allowed):
        raise Forbidden("metrics are for monitoring: use IDM_METRICS_TOKEN or an allowed address")


def count_request(response, seconds):
    route = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
    REQUESTS.labels(request.method, route, str(response.status_code)).inc()
    LATENCY.labels(request.method, route).observe(seconds)
