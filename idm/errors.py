"""The one JSON error shape, and the handlers that make every error use it.

JSON endpoints answer ``{"error": {"status": N, "message": "..."}}`` for
every failure, 404/405/413/415/500 included. Pages answer an error page.
Which of the two follows from the blueprint that serves the path
(idm/blueprints.py); a path that no route serves is answered as the client
prefers (a browser's Accept gets a page, any other client JSON).
"""

import logging

from flask import current_app, render_template, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from .blueprints import PageBlueprint
from .keys import KeysUnavailable
from .logs import one_line
from .requests import prefers_html

log = logging.getLogger(__name__)


def error_response(status, message, headers=None):
    body = {"error": {"status": status, "message": message}}
    return body, status, headers or {}


def wants_page():
    blueprint = current_app.blueprints.get(request.blueprint) if request.blueprint else None
    if blueprint is not None:
        return isinstance(blueprint, PageBlueprint)
    return prefers_html()


def error_headers(error):
    """The headers *error* must keep on any answer: Allow (405), Retry-After (429),
    WWW-Authenticate (401); also for a form that shows the error itself."""
    return {k: v for k, v in error.get_headers() if k.lower() != "content-type"}


def form_page(template, error=None, **context):
    """A page that answers a form: 200, or *error*'s status, headers and message.

    The template shows ``error`` (the message) next to the form; the headers
    keep Retry-After on a 429 from the lockout, as the error page would.
    """
    if error is None:
        return render_template(template, error=None, **context), 200
    page = render_template(template, error=error.description, **context)
    return page, error.code, error_headers(error)


def handle_http_error(error):
    headers = error_headers(error)
    message = error.description or error.name
    if wants_page():
        page = render_template("error.html", status=error.code, message=message)
        return page, error.code, headers
    return error_response(error.code, message, headers)


def handle_database_unavailable(error):
    # A lost connection is an outage to report as such, not a bug (500); the
    # driver's text may name hosts, so it goes to the log only.
    log.error("database unavailable on %s %s: %s", request.method, request.path, one_line(error))
    return handle_http_error(ServiceUnavailable("the database is unavailable; try again later"))


def handle_keys_unavailable(error):
    # An operator's matter (SECRET_KEY changed without `keys reseal`): the
    # details go to the log; verifying tokens still works meanwhile.
    log.error("cannot sign tokens on %s %s: %s", request.method, request.path, error)
    return handle_http_error(ServiceUnavailable("tokens cannot be issued right now; try later"))


def handle_unexpected_error(error):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return handle_http_error(InternalServerError("internal error; it has been logged"))


def init_app(app):
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(KeysUnavailable, handle_keys_unavailable)
    app.register_error_handler(Exception, handle_unexpected_error)
