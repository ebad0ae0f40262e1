"""Reading JSON request bodies at the edge, with messages that say what is wrong."""

from flask import request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType


def json_object(allowed):
    """The request's JSON object; refuses other types and unknown fields."""
    if not request.is_json:
        raise UnsupportedMediaType("request body must be JSON (Content-Type: application/json)")
    data = request.get_json(silent=True)
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
    return value


def bool_field(data, name):
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        raise BadRequest(f"{name} must be true or false")
    return value
