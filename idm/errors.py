"""The one JSON error shape, and the handlers that make every error use it.

JSON endpoints answer ``{"error": {"status": N, "message": "..."}}`` for
every failure, 404/405/413/415/500 included. HTML pages get an error page.
"""

import logging

from flask import render_template, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

log = logging.getLogger(__name__)

# Paths served as HTML (the path itself or below it); the rest is the JSON API.
PAGES = ("/init", "/iforgot", "/reset", "/admin", "/static")


def error_response(status, message, headers=None):
    body = {"error": {"status": status, "message": message}}
    return body, status, headers or {}


def wants_page():
    return any(request.path == page or request.path.startswith(page + "/") for page in PAGES)


def handle_http_error(error):
    # Keep headers such as Allow (405), Retry-After (429), WWW-Authenticate (401).
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    message = error.description or error.name
    if wants_page():
        page = render_template("error.html", status=error.code, message=message)
        return page, error.code, headers
    return error_response(error.code, message, headers)


def handle_database_unavailable(error):
    # A lost connection is an outage to report as such, not a bug (500); the
    # driver's text may name hosts, so it goes to the log only.
    log.error("database unavailable on %s %s: %s", request.method, request.path, error)
    return handle_http_error(ServiceUnavailable("the database is unavailable; try again later"))


def handle_unexpected_error(error):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return handle_http_error(InternalServerError("internal error; it has been logged"))


def register_error_handlers(app):
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected_error)
