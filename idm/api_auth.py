"""Access tokens for username + password: POST /auth."""

from flask import Blueprint, request

from .auth import AuthenticationRequired
from .payload import json_object, string_field
from .tokens import issue_access_token
from .users import authenticate

bp = Blueprint("tokens", __name__)

# One message for an unknown user and a wrong password: no enumeration.
BAD_CREDENTIALS = "wrong username or password"


def credentials():
    """(username, password) from HTTP Basic or from a JSON body."""
    basic = request.authorization
    if basic is not None and basic.type == "basic":
        username, password = basic.username or "", basic.password or ""
    else:
        data = json_object(allowed={"username", "password"})
        username = string_field(data, "username")
        password = string_field(data, "password")
    if "\x00" in username + password:
        raise AuthenticationRequired(BAD_CREDENTIALS)
    return username, password


def token_response(user, auth_time=None):
    token, expires_in = issue_access_token(user, auth_time)
    return {"access_token": token, "token_type": "Bearer", "expires_in": expires_in}


@bp.post("/auth")
def login():
    username, password = credentials()
    user = authenticate(username, password)
    if user is None:
        raise AuthenticationRequired(BAD_CREDENTIALS)
    return token_response(user)
