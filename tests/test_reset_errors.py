"""What the reset pages say to bad input: each reason, status 400, never a 500."""

from urllib.parse import urlsplit

import pytest
from conftest import USER, csrf_token
from test_reset import (
    NEW_PASSWORD,
    ask_for_link,
    emailed_link,
    password_works,
    submit_new_password,
)


@pytest.fixture
def app_config(smtp_server):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port}


@pytest.mark.parametrize(
    ("pass1", "pass2", "reason"),
    [
        ("one long password", "another long password", "the two passwords do not match"),
        ("short", "short", "at least 8 characters"),
        ("x" * 257, "x" * 257, "at most 256 characters"),
        ("password", "password", "too common"),
        ("", "", "at least 8 characters"),
    ],
)
def test_a_bad_new_password_rerenders_the_form_with_the_reason(
    app, client, user, smtp_server, pass1, pass2, reason
):
    link = emailed_link(client, app, smtp_server)

    refused = submit_new_password(client, link, pass1, pass2)
    assert refused.status_code == 400
    assert reason.encode() in refused.data
    assert b'name="pass1"' in refused.data  # the form is back
    assert USER[0].encode() in refused.data
    assert password_works(client, USER[1])
    # The link was not used up by the failed attempt.
    assert submit_new_password(client, link).status_code == 200


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", b"this one has no key"),
        ("?k=", b"this one has no key"),
        ("?k=made-up-key", b"This reset link is not valid"),
        ("?k=" + "a" * 500, b"This reset link is not valid"),
    ],
)
def test_a_bad_link_says_why_and_points_back_to_iforgot(client, query, reason):
    page = client.get("/reset" + query)
    assert page.status_code == 400
    assert reason in page.data
    assert b'href="/iforgot"' in page.data
    assert b'name="pass1"' not in page.data

    key = query.removeprefix("?k=")
    form = {"csrf_token": csrf_token(client.get("/iforgot").text), "key": key}
    form.update(pass1=NEW_PASSWORD, pass2=NEW_PASSWORD)
    posted = client.post("/reset", data=form)
    assert posted.status_code == 400
    assert reason in posted.data


@pytest.mark.parametrize(
    ("username", "reason"),
    [
        ("", b"username is required"),
        ("not an address", b"username must be an email address"),
        ("a@b.c\x00", b"username must be an email address"),
    ],
)
def test_iforgot_with_a_bad_address_keeps_it_and_says_why(client, username, reason):
    page = ask_for_link(client, username)
    assert page.status_code == 400
    assert reason in page.data
    assert b'name="username"' in page.data


def test_forms_without_the_csrf_token_are_refused(app, client, user, smtp_server):
    assert client.post("/iforgot", data={"username": USER[0]}).status_code == 400
    link = emailed_link(client, app, smtp_server)
    key = urlsplit(link).query.removeprefix("k=")
    form = {"key": key, "pass1": NEW_PASSWORD, "pass2": NEW_PASSWORD}
    assert client.post("/reset", data=form).status_code == 400
    assert password_works(client, USER[1])
