"""/init: the first admin, once, through a CSRF-protected form; loud while nobody did it."""

import logging

import pytest
from conftest import csrf_token
from sqlalchemy import func, select

from idm.bootstrap import setup_code
from idm.models import User, db

PASSWORD = "a long admin password"


def users_in(app):
    """(username, admin) of every user, straight from the database."""
    with app.app_context():
        return sorted(db.session.execute(select(User.username, User.admin)).all())


def user_count(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def init_form(client, **fields):
    """The /init form as a browser fills it: CSRF token from the page, then *fields*."""
    form = {"csrf_token": csrf_token(client.get("/init").text)}
    form.update(username="Admin@Example.org", password=PASSWORD, password2=PASSWORD)
    form.update(fields)
    return form


def test_get_shows_the_form(client):
    page = client.get("/init")

    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert csrf_token(page.text)
    for field, label in [("username", "Email address"), ("password", "Password")]:
        assert f'<label for="{field}">{label}</label>' in page.text
        assert f'id="{field}" name="{field}"' in page.text
    assert '<label for="password2">Password again</label>' in page.text
    assert 'name="code"' not in page.text  # no setup code unless configured
    assert "/static/style.css" in page.text


def test_post_creates_the_first_admin(app, client):
    page = client.post("/init", data=init_form(client, username="  Admin@Example.ORG "))

    assert page.status_code == 201
    assert "Admin admin@example.org was created" in page.text
    assert "<form" not in page.text
    assert users_in(app) == [("admin@example.org", True)]
    login = client.post("/auth", json={"username": "admin@example.org", "password": PASSWORD})
    assert login.status_code == 200


def test_once_an_admin_exists_get_shows_the_ready_page(client, admin):
    page = client.get("/init")

    assert page.status_code == 200
    assert "The service is ready" in page.text
    assert "<form" not in page.text
    assert 'name="password"' not in page.text


def test_once_an_admin_exists_post_creates_nothing(app, client):
    form = init_form(client)
    assert client.post("/init", data=form).status_code == 201
    second = dict(form, username="intruder@example.org")

    page = client.post("/init", data=second)

    assert page.status_code == 403
    assert "The service is ready" in page.text
    assert "<form" not in page.text
    assert users_in(app) == [("admin@example.org", True)]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"password2": PASSWORD + "!"}, "the two passwords do not match"),
        ({"password": "short", "password2": "short"}, "at least 8 characters"),
        ({"password": "x" * 257, "password2": "x" * 257}, "at most 256 characters"),
        ({"password": "password123", "password2": "password123"}, "too common"),
        ({"password": "", "password2": ""}, "at least 8 characters"),
        ({"username": "not-an-email"}, "must be an email address"),
        ({"username": "   "}, "username is required"),
    ],
    ids=["mismatch", "short", "long", "common", "empty", "not an email", "blank username"],
)
def test_bad_input_re_renders_the_form(app, client, fields, reason):
    form = init_form(client, **fields)

    page = client.post("/init", data=form)

    assert page.status_code == 400
    assert page.mimetype == "text/html"
    assert reason in page.text
    assert 'name="password2"' in page.text  # the form again, to correct it
    assert f'value="{form["username"]}"' in page.text  # what was typed stays
    assert PASSWORD not in page.text  # but never a password
    assert user_count(app) == 0


def test_post_without_csrf_token_is_refused(app, client):
    form = init_form(client)
    del form["csrf_token"]

    page = client.post("/init", data=form)

    assert page.status_code == 400
    assert "CSRF" in page.text
    assert user_count(app) == 0


def test_post_with_a_forged_csrf_token_is_refused(app, client):
    form = init_form(client, csrf_token="forged")

    assert client.post("/init", data=form).status_code == 400
    assert user_count(app) == 0


@pytest.fixture
def coded_client(make_app):
    return make_app(IDM_INIT_REQUIRE_CODE=True).test_client()


def test_the_form_asks_for_the_setup_code_when_configured(coded_client):
    page = coded_client.get("/init")

    assert '<label for="code">Setup code</label>' in page.text
    assert 'name="code"' in page.text


@pytest.mark.parametrize("code", [None, "", "0000-0000-0000"], ids=["missing", "empty", "wrong"])
def test_a_wrong_setup_code_is_refused(app, coded_client, code):
    form = init_form(coded_client)
    if code is not None:
        form["code"] = code

    page = coded_client.post("/init", data=form)

    assert page.status_code == 403
    assert "setup code is wrong" in page.text
    assert 'name="code"' in page.text
    assert user_count(app) == 0


def test_the_setup_code_opens_init(coded_client):
    app = coded_client.application
    with app.app_context():
        code = setup_code()

    page = coded_client.post("/init", data=init_form(coded_client, code=f" {code} "))

    assert page.status_code == 201
    assert users_in(app) == [("admin@example.org", True)]


def test_the_setup_code_from_the_cli_opens_init(coded_client):
    app = coded_client.application
    result = app.test_cli_runner().invoke(args=["init-code"])
    assert result.exit_code == 0
    code = result.output.strip()

    page = coded_client.post("/init", data=init_form(coded_client, code=code))

    assert page.status_code == 201


def test_the_setup_code_depends_on_the_secret_key(make_app):
    codes = set()
    for secret in ("first secret key", "second secret key"):
        with make_app(SECRET_KEY=secret).app_context():
            codes.add(setup_code())

    assert len(codes) == 2


def no_admin_warnings(caplog):
    return [r for r in caplog.records if "NO ADMIN EXISTS" in r.getMessage()]


def test_start_up_log_says_loudly_that_no_admin_exists(make_app, caplog):
    make_app()  # the first start creates the tables
    caplog.clear()
    caplog.set_level(logging.INFO)
    make_app()  # a start on a schema without an admin

    [warning] = no_admin_warnings(caplog)
    assert warning.levelno == logging.WARNING
    assert "/init" in warning.getMessage()


def test_start_up_log_shows_the_setup_code_when_required(make_app, caplog):
    make_app()  # the first start creates the tables
    caplog.clear()
    app = make_app(IDM_INIT_REQUIRE_CODE=True)

    with app.app_context():
        assert setup_code() in caplog.text


def test_start_up_log_is_silent_once_an_admin_exists(make_app, admin, caplog):
    caplog.clear()
    make_app()  # a restart on the same database

    assert no_admin_warnings(caplog) == []
