"""Reading requests at the edge: JSON bodies and query strings, with clear messages.

Every view parses its input with these helpers, so a rule (no NUL
characters, bounded numbers, unknown fields refused) holds everywhere.
"""

import re
from datetime import date

from flask import current_app, request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from . import audit

# The largest offset or page number any list accepts: far beyond any real
# list, and small enough for every database's integer (PostgreSQL bigint,
# SQLite INTEGER), so a huge number is a 400 and never a 500.
MAX_OFFSET = 2**31 - 1
# The last page an HTML list offers: far beyond any real list, and at the
# largest page size still an offset below MAX_OFFSET.
MAX_PAGE = 1_000_000
# A day as <input type="date"> sends it; ASCII digits only.
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
FLAGS = {"1": True, "true": True, "0": False, "false": False}
MAX_TEXT_ARG = 254  # an email address at most (RFC 5321)


def json_object(allowed):
    """The request's JSON object; refuses other types and unknown fields."""
    if not request.is_json:
        raise UnsupportedMediaType("request body must be JSON (Content-Type: application/json)")
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        # json nests deeper than Python's recursion limit: refuse, don't crash.
        raise BadRequest("request body is nested too deeply") from None
    if data is None:
        raise BadRequest("request body is not valid JSON")
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise BadRequest(f"unknown field: {unknown[0]}")
    return data


def string_field(data, name, required=True):
    value = data.get(name)
    if value is None:
        if required:
            raise BadRequest(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    return checked_text(name, value)


def bool_field(data, name):
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        raise BadRequest(f"{name} must be true or false")
    return value


def checked_text(name, value):
    """*value* when a database and a hash can take it, else a 400 naming *name*."""
    if "\x00" in value:
        raise BadRequest(f"{name} must not contain NUL characters")
    try:
        value.encode()
    except UnicodeEncodeError:
        # JSON may escape lone surrogates ("\ud800") that no database or hash can take.
        raise BadRequest(f"{name} must be valid Unicode text") from None
    return value


def query_parameters(*names):
    """Declare the query parameters a JSON view reads; any other one is refused.

    Put it below the route decorator. ``refuse_unknown_query_parameters``
    (run before every JSON view, see idm/blueprints.py) reads the declaration.
    """

    def declare(view):
        view.query_parameters = frozenset(names)
        return view

    return declare


def refuse_unknown_query_parameters():
    """400 naming the first query parameter the view does not read.

    So a typo (``?page=2`` where the list takes ``offset``) never passes
    silently. Names starting with ``_`` are ignored: clients add them to
    defeat caches (``?_=1700000000``).
    """
    view = current_app.view_functions.get(request.endpoint)
    accepted = getattr(view, "query_parameters", frozenset())
    for name in request.args:
        if name not in accepted and not name.startswith("_"):
            raise BadRequest(f"unknown query parameter: {name}")


def int_arg(name, default, minimum, maximum):
    """A whole number from the query string, within [minimum, maximum]."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number") from None
    if value < minimum:
        raise BadRequest(f"{name} must be at least {minimum}")
    if value > maximum:
        raise BadRequest(f"{name} must be at most {maximum}")
    return value


def window_args(default_perpage, max_perpage):
    """``(offset, perpage)`` of a JSON list from ``offset`` and ``perpage``."""
    offset = int_arg("offset", 0, minimum=0, maximum=MAX_OFFSET)
    perpage = int_arg("perpage", default_perpage, minimum=1, maximum=max_perpage)
    return offset, perpage


def text_arg(name):
    """A trimmed text from the query string, or None when empty or absent."""
    value = checked_text(name, request.args.get(name, ""))
    # The bound is on what was sent, as the OpenAPI description states it
    # (maxLength): trimming is a courtesy, not room for more.
    if len(value) > MAX_TEXT_ARG:
        raise BadRequest(f"{name} must be at most {MAX_TEXT_ARG} characters")
    return value.strip() or None


def flag_arg(name):
    """``1``/``true`` or ``0``/``false`` (the default) from the query string, exactly."""
    value = request.args.get(name, "0")
    if value not in FLAGS:
        raise BadRequest(f"{name} must be 1, 0, true or false")
    return FLAGS[value]


def date_arg(name):
    """A day (``2026-12-04``) from the query string, or None when empty or absent."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        if DAY.fullmatch(raw):
            return date.fromisoformat(raw)
    except ValueError:
        pass  # 2026-02-30, or year 0
    raise BadRequest(f"{name} must be a date as YYYY-MM-DD, like 2026-12-04")


def audit_filters():
    """The audit log's filters from the query string, read alike by GET /audit and its page."""
    return audit.filters(
        user=text_arg("user"),
        action=text_arg("action"),
        outcome=text_arg("outcome"),
        since=date_arg("since"),
        until=date_arg("until"),
        subject=text_arg("subject"),
    )


def page_arg(perpage):
    """The ``page`` of an HTML list (1, 2, …) as an offset into it."""
    page = int_arg("page", 1, minimum=1, maximum=MAX_PAGE)
    return page, (page - 1) * perpage


def page_count(total, perpage):
    """How many pages of *perpage* an HTML list of *total* rows has; an empty one is page 1 of 1."""
    return max(1, -(-total // perpage))


def prefers_html():
    """Whether the client would rather read a page than JSON (a browser's Accept)."""
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html"
