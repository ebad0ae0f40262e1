"""The one JSON error shape, and the handlers that make every error use it.

JSON endpoints answer ``{"error": {"status": N, "message": "..."}}`` for
every failure, 404/405/413/415/500 included. HTML pages get an error page.
"""

import logging

from flask import render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

# Paths served as HTML; everything else is the JSON API.
PAGE_PREFIXES = ("/init", "/iforgot", "/reset", "/admin", "/static/")


def error_response(status, message, headers=None):
    body = {"error": {"status": status, "message": message}}
    return body, status, headers or {}


def wants_page():
    return request.path.startswith(PAGE_PREFIXES)


def handle_http_error(error):
    # Keep headers such as Allow (405), Retry-After (429), WWW-Authenticate (401).
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    message = error.description or error.name
    if wants_page():
        page = render_template("error.html", status=error.code, message=message)
        return page, error.code, headers
    return error_response(error.code, message, headers)


def handle_unexpected_error(error):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return handle_http_error(InternalServerError("internal error; it has been logged"))


def register_error_handlers(app):
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected_error)
