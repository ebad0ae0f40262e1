"""The ceiling of POST /auth: a JSON body in, one password hash checked, JSON out.

It checks the very hash the service stores (``BENCH_PASSWORD_HASH``, made by
the service with its configured method), under the same gunicorn settings.
Measured over HTTP rather than in-process because the HTTP figure already
pays for what no login endpoint can avoid: gunicorn, the request and JSON
parsing, and wrk sharing the same cores. An in-process hashes/s figure
multiplied by the worker count is a ceiling no server could reach here.
"""

import os

from flask import Flask, request
from werkzeug.security import check_password_hash


def create_app():
    app = Flask(__name__)
    stored_hash = os.environ["BENCH_PASSWORD_HASH"]

    @app.post("/hash")
    def check():
        body = request.get_json()
        if not check_password_hash(stored_hash, body["password"]):
            return {"ok": False}, 401  # wrk counts it: a wrong password spoils the run
        return {"ok": True}

    return app
