"""GET /metrics: the Prometheus exposition, for monitoring only (idm/metrics.py)."""

import time

from flask import g

from .. import metrics
from ..blueprints import ApiBlueprint

bp = ApiBlueprint("metrics", __name__)


@bp.get("/metrics")
def export():
    metrics.check_access()
    body, content_type = metrics.exposition()
    return body, 200, {"Content-Type": content_type}


@bp.before_app_request
def start_clock():
    g.metrics_started = time.perf_counter()


@bp.after_app_request
def count(response):
    started = g.pop("metrics_started", None)
    if started is not None:
        metrics.count_request(response, time.perf_counter() - started)
    return response
