"""The fuzzer's own check (tests/fuzz_checks.py) finds each kind of secret, and only secrets."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import schemathesis
from fuzz_checks import SECRETS, add_secrets, no_secret_in_response
from fuzzing import load_schema
from openapi_check import description

PASSWORD = "correct horse bättery"
NEW_USER = {"username": "new@example.org", "password": PASSWORD}


class Answers(BaseHTTPRequestHandler):
    """/leaky says which password it got; /fixed always says the same thing."""

    def do_POST(self):
        sent = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        said = sent["password"] if self.path == "/leaky" else PASSWORD
        body = json.dumps({"error": {"status": 400, "message": f"{said} is too common"}})
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def schema():
    return load_schema(description(), examples=1, seed=0)


def post_user(schema, body=NEW_USER):
    """A POST /user request as the fuzzer makes it."""
    return schema["/user"]["POST"].Case(body=dict(body))


def answer(body, url="http://127.0.0.1:9/user", sent=NEW_USER):
    """An answer to *sent* at *url*; *body* is JSON (or bytes as they are)."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = requests.Request("POST", url, json=sent).prepare()
    return schemathesis.Response(400, {}, content, request, 0.0, True)


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ({"data": {"hash": "scrypt:32768:8:1$salt$0123abcd"}}, "a password hash"),
        ({"data": {"hash": "pbkdf2:sha256:600000$salt$0123"}}, "a password hash"),
        ({"key": "-----BEGIN EC PRIVATE KEY-----\nMHcC…"}, "a private key"),
        ({"keys": [{"kty": "EC", "crv": "P-256", "x": "…", "y": "…", "d": "…"}]}, "JWK"),
        ({"link": "https://idm.example.org/reset?k=Zm9vYmFy"}, "a reset link"),
    ],
)
def test_each_kind_of_secret_fails_the_check(schema, body, what):
    with pytest.raises(AssertionError, match=what):
        no_secret_in_response(None, answer(body), post_user(schema))


def test_a_secret_setting_of_the_server_fails_the_check(schema):
    settings = {
        "SECRET_KEY": "k" * 40,
        "IDM_LINK_SECRET": "l" * 40,
        "IDM_PUBLIC_URL": "http://idm.example.org",
        "IDM_PASSWORD_CHANGED_MAIL_SUBJECT": "Your password was changed",
    }
    add_secrets(settings)
    try:
        with pytest.raises(AssertionError, match="secret setting"):
            no_secret_in_response(None, answer({"x": "l" * 40}), post_user(schema))
        # Not secrets, and named like none.
        assert not {"http://idm.example.org", "Your password was changed"} & SECRETS
    finally:
        SECRETS.difference_update({"k" * 40, "l" * 40})


def test_an_answer_that_echoes_the_password_fails_the_check(schema, server):
    leaky = requests.post(server + "/leaky", json=NEW_USER, timeout=10)
    assert "b\\u00e4ttery" in leaky.text  # escaped in the JSON text, found all the same

    with pytest.raises(AssertionError, match="the password sent"):
        no_secret_in_response(None, answer(leaky.content, server + "/leaky"), post_user(schema))


def test_a_password_that_the_answer_holds_anyway_passes(schema, server):
    """The fuzzer reuses strings from answers as passwords; the same text whatever
    the password is no echo (the check asks again with another one)."""
    fixed = answer({"error": {"message": f"{PASSWORD} is too common"}}, server + "/fixed")

    no_secret_in_response(None, fixed, post_user(schema))


def test_what_is_no_secret_passes(schema):
    user = {"id": "0f8e…", "username": "new@example.org", "admin": False}
    public_jwk = {"kty": "EC", "crv": "P-256", "x": "…", "y": "…"}
    no_secret_in_response(None, answer({"data": user, "keys": [public_jwk]}), post_user(schema))
    # The fuzzer sends one string in several places: echoing it as a username is fine.
    same = post_user(schema, {"username": PASSWORD, "password": PASSWORD})
    no_secret_in_response(None, answer({"error": {"message": f"no user {PASSWORD}"}}), same)
