"""A check of answers that Schemathesis lacks: nothing secret in any of them.

Registered with Schemathesis when imported (tests/fuzzing.py does), it runs
next to the built-in checks on every answer the fuzzer receives: no
password hash, reset link, private key (PEM, or the private members of a
JWK), secret setting, or the password that the request itself sent.
"""

import json
import re
import secrets

import requests
import schemathesis

# The secret settings of the servers under test (SECRET_KEY and any other
# setting named like a secret or a key), filled in by FuzzServer.
SECRETS = set()
SECRET_SETTING = re.compile(r"(SECRET|_KEY|PASSWORD|TOKEN)$")
PASSWORD_HASH = re.compile(r"(?:pbkdf2:sha\d+|scrypt)[:\d]*\$")
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
RESET_LINK = re.compile(r"/reset\?k=")
# RFC 7518 6.2.2, 6.3.2 and 6.4: what only the private half of a JWK holds.
PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
# The service's shortest password; a shorter string turns up anywhere by chance.
SHORTEST_PASSWORD = 8
PASSWORD_FIELDS = ("password", "current_password")


def add_secrets(config):
    """Remember the secret settings of a server under test."""
    for name, value in config.items():
        if SECRET_SETTING.search(name) and isinstance(value, str) and len(value) >= 8:
            SECRETS.add(value)


@schemathesis.check
def no_secret_in_response(ctx, response, case):
    """No answer holds a password hash, a reset link, a key, or the password just sent."""
    text, body = response_text(response)
    for what, pattern in (
        ("a password hash", PASSWORD_HASH),
        ("a private key", PRIVATE_KEY),
        ("a reset link", RESET_LINK),
    ):
        if pattern.search(text):
            raise AssertionError(f"the answer holds {what}")
    if any(secret in text for secret in SECRETS):
        raise AssertionError("the answer holds a secret setting of the server")
    if any(is_private_jwk(value) for value in values_in(body)):
        raise AssertionError("the answer holds the private half of a JWK")
    for password in passwords_sent(case):
        if password in text and echoes(response, case, password):
            raise AssertionError(f"the answer holds the password sent: {password!r}")


def response_text(response):
    """(headers and body as one text with JSON strings decoded, the parsed JSON or None)."""
    parts = [f"{name}: {value}" for name, values in response.headers.items() for value in values]
    parts.append(response.content.decode("utf-8", "replace"))
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    # Decoded too: a secret may stand \u-escaped in the JSON text.
    parts.extend(value for value in values_in(body) if isinstance(value, str))
    return "\n".join(parts), body


def values_in(value):
    """*value* and everything nested in it."""
    yield value
    children = (
        value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    )
    for child in children:
        yield from values_in(child)


def is_private_jwk(value):
    return isinstance(value, dict) and "kty" in value and bool(PRIVATE_JWK_MEMBERS & set(value))


def echoes(response, case, password):
    """Whether the answer holds *password* because the request sent it.

    The fuzzer takes strings from earlier answers ('Bearer realm="idm"', an
    error message) as passwords, so finding one in the answer proves
    nothing. The same request with another password in its place tells: an
    answer that echoes the field holds the other one then.
    """
    marker = "echo-" + secrets.token_hex(8)
    body = {name: marker if value == password else value for name, value in case.body.items()}
    request = response.request.copy()
    request.prepare_body(data=None, files=None, json=body)
    with requests.Session() as session:
        again = session.send(request, timeout=30)
    return marker in again.text or marker in str(again.headers)


def passwords_sent(case):
    """The passwords of the request, less any it also sent elsewhere (as a username, a query…).

    Echoing what was sent as a username or as an unknown query parameter is
    fine, and the fuzzer often sends one string in several places.
    """
    body = case.body if isinstance(case.body, dict) else {}
    passwords = {body[name] for name in PASSWORD_FIELDS if isinstance(body.get(name), str)}
    plain = [value for name, value in body.items() if name not in PASSWORD_FIELDS]
    query = case.query or {}
    plain += [*query, *query.values(), *(case.path_parameters or {}).values()]
    return {
        password
        for password in passwords
        if len(password) >= SHORTEST_PASSWORD and not any(password in str(v) for v in plain)
    }
