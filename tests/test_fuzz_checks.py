"""The fuzzer's own check (tests/fuzz_checks.py) finds each kind of secret, and only secrets."""

import json

import pytest
import requests
import schemathesis
from fuzz_checks import SECRETS, add_secrets, no_secret_in_response
from fuzzing import load_schema
from openapi_check import description

NEW_USER = {"username": "new@example.org", "password": "correct horse battery"}


def answer(body, headers=None):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = requests.Request("POST", "http://127.0.0.1/user").prepare()
    return schemathesis.Response(200, headers or {}, content, request, 0.0, True)


@pytest.fixture(scope="module")
def case():
    """A POST /user request as the fuzzer would make it."""
    schema = load_schema(description(), examples=1, seed=0)
    return schema["/user"]["POST"].Case(body=dict(NEW_USER))


@pytest.mark.parametrize(
    "body, what",
    [
        ({"data": {"hash": "scrypt:32768:8:1$salt$0123abcd"}}, "a password hash"),
        ({"data": {"hash": "pbkdf2:sha256:600000$salt$0123"}}, "a password hash"),
        ({"key": "-----BEGIN EC PRIVATE KEY-----\nMHcC…"}, "a private key"),
        ({"keys": [{"kty": "EC", "crv": "P-256", "x": "…", "y": "…", "d": "…"}]}, "JWK"),
        ({"link": "https://idm.example.org/reset?k=Zm9vYmFy"}, "a reset link"),
        ({"error": {"message": "correct horse battery is too common"}}, "password sent"),
        (b'{"echo": "correct horse b\\u0061ttery"}', "password sent"),
    ],
)
def test_each_kind_of_secret_fails_the_check(case, body, what):
    with pytest.raises(AssertionError, match=what):
        no_secret_in_response(None, answer(body), case)


def test_a_secret_setting_of_the_server_fails_the_check(case):
    settings = {
        "SECRET_KEY": "k" * 40,
        "IDM_LINK_SECRET": "l" * 40,
        "IDM_PUBLIC_URL": "http://idm.example.org",
        "IDM_PASSWORD_CHANGED_MAIL_SUBJECT": "Your password was changed",
    }
    add_secrets(settings)
    try:
        with pytest.raises(AssertionError, match="secret setting"):
            no_secret_in_response(None, answer({"x": "l" * 40}), case)
        # Not secrets, and named like none.
        assert not {"http://idm.example.org", "Your password was changed"} & SECRETS
    finally:
        SECRETS.difference_update({"k" * 40, "l" * 40})


def test_what_is_no_secret_passes(case):
    user = {"id": "0f8e…", "username": "new@example.org", "admin": False}
    public_jwk = {"kty": "EC", "crv": "P-256", "x": "…", "y": "…"}
    no_secret_in_response(None, answer({"data": user, "keys": [public_jwk]}), case)
    # The fuzzer sends one string in several places: echoing it as a username is fine.
    same = load_schema(description(), examples=1, seed=0)["/user"]["POST"].Case(
        body={"username": "correct horse battery", "password": "correct horse battery"}
    )
    echo = answer({"error": {"message": "no user correct horse battery"}})
    no_secret_in_response(None, echo, same)
