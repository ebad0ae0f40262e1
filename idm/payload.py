"""Reading JSON request bodies at the edge, with messages that say what is wrong."""

from flask import request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType


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
    if "\x00" in value:
        raise BadRequest(f"{name} must not contain NUL characters")
    if not encodes_as_utf8(value):
        # JSON may escape lone surrogates ("\ud800") that no database or hash can take.
        raise BadRequest(f"{name} must be valid Unicode text")
    return value


def encodes_as_utf8(text):
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def bool_field(data, name):
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        raise BadRequest(f"{name} must be true or false")
    return value
