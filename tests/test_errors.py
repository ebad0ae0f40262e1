"""Every failure of a JSON endpoint answers the one JSON error shape; pages answer HTML.

Also: no input at all makes the service answer 500.
"""

import logging

import pytest
from conftest import BROWSER_ACCEPT, UNKNOWN_ID, json_error


def assert_json_only(response):
    assert "<html" not in response.text.lower()
    assert "Traceback" not in response.text


def assert_html_page(response, status):
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert response.text.lstrip().lower().startswith("<!doctype html>")
    assert "Traceback" not in response.text


@pytest.mark.parametrize("path", ["/nope", "/users/", "/user/me/more", "/auth/x"])
def test_404(client, path):
    response = client.get(path)

    json_error(response, 404)
    assert_json_only(response)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/", {"GET"}),
        ("POST", "/status", {"GET"}),
        ("GET", "/auth", {"POST"}),
        ("PATCH", "/user/me", {"GET"}),
        ("PATCH", f"/user/{UNKNOWN_ID}", {"GET", "PUT", "DELETE"}),
        ("PUT", "/user", {"POST", "DELETE"}),
        ("POST", "/users", {"GET"}),
    ],
)
def test_405_names_the_allowed_methods(client, method, path, allowed):
    response = client.open(path, method=method)

    json_error(response, 405)
    assert_json_only(response)
    assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}


@pytest.mark.parametrize("path", ["/auth", "/user"])
def test_413_body_over_max_content_length(app, client, admin_headers, path):
    padding = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    body = '{"username": "a@example.org", "password": "' + padding + '"}'

    response = client.post(path, data=body, content_type="application/json", headers=admin_headers)

    json_error(response, 413)
    assert_json_only(response)


def test_413_is_a_setting(app, client, admin_headers):
    app.config["MAX_CONTENT_LENGTH"] = 100
    body = {"username": "somebody@example.org", "password": "y" * 100}

    json_error(client.post("/user", json=body, headers=admin_headers), 413)


@pytest.mark.parametrize(
    "body",
    [
        {"data": "username=a@example.org&password=long enough"},
        {"data": '{"username": "a@example.org"}', "content_type": "text/plain"},
        {"data": "<user/>", "content_type": "application/xml"},
        {},
    ],
    ids=["form", "text/plain", "xml", "nothing"],
)
def test_415_for_bodies_that_are_not_json(client, admin_headers, body):
    response = client.post("/user", headers=admin_headers, **body)

    assert "must be JSON" in json_error(response, 415)


def test_500_hides_the_exception_and_logs_it(app, client, caplog):
    def boom():
        raise RuntimeError("secret detail: postgres://idm:hunter2@db")

    app.add_url_rule("/boom", view_func=boom)

    response = client.get("/boom")

    assert json_error(response, 500) == "internal error; it has been logged"
    assert_json_only(response)
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    [logged] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert logged.exc_info[0] is RuntimeError  # the operator gets the traceback


def test_500_on_a_page_is_an_html_page_whatever_the_client_accepts(client, monkeypatch):
    def boom():
        raise RuntimeError("secret detail")

    monkeypatch.setattr("idm.web.bootstrap.admin_exists", boom)

    response = client.get("/init", headers={"Accept": "application/json"})

    assert_html_page(response, 500)
    assert "secret detail" not in response.text


@pytest.mark.parametrize("path", ["/init/nope", "/admin/nowhere", "/static/nope.css", "/nope"])
def test_unrouted_paths_answer_a_browser_with_a_page_and_others_with_json(client, path):
    assert_html_page(client.get(path, headers={"Accept": BROWSER_ACCEPT}), 404)
    json_error(client.get(path), 404)
    json_error(client.get(path, headers={"Accept": "application/json"}), 404)


def test_405_keeps_allow_for_browsers_and_json_clients(client):
    page = client.delete("/init", headers={"Accept": BROWSER_ACCEPT})
    assert_html_page(page, 405)
    assert {"GET", "POST"} <= {m.strip() for m in page.headers["Allow"].split(",")}
    json_error(client.delete("/init"), 405)


def test_api_errors_are_json_even_for_a_browser(client):
    response = client.get("/user/me", headers={"Accept": BROWSER_ACCEPT})
    json_error(response, 401)
    assert_json_only(response)


def test_csrf_failure_on_a_page_is_html(client):
    assert_html_page(client.post("/init", data={"username": "a@example.org"}), 400)


# Inputs that once crashed, or could: each must be a 4xx saying what is wrong.
NASTY_BODIES = [
    ("[" * 30_000 + "]" * 30_000, "nested too deeply"),  # under MAX_CONTENT_LENGTH
    ('{"username": "\\ud800@example.org", "password": "long enough"}', "valid Unicode"),
    ('{"username": "a@example.org", "password": "\\udfff long enough"}', "valid Unicode"),
    ('{"username": ' + "9" * 5000 + ', "password": "x"}', "not valid JSON"),
    ('{"username": 1e999999, "password": NaN}', "must be a string"),
    (b'{"username": "\xff\xfe", "password": "x"}', "not valid JSON"),
    ('{"username": "a@example.org", "password": {"$ne": null}}', "must be a string"),
    ('{"username": "a@example.org", "password": "x", "password": 1}', "must be a string"),
]


@pytest.mark.parametrize(("body", "reason"), NASTY_BODIES)
@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/auth"), ("POST", "/user"), ("DELETE", "/user"), ("PUT", "ME")]
)
def test_nasty_bodies_are_4xx(client, admin_headers, ids, method, path, body, reason):
    path = f"/user/{ids['admin']}" if path == "ME" else path
    if method == "DELETE":
        body = body.replace("password", "username") if isinstance(body, str) else body
    elif method == "PUT" and isinstance(body, str):
        body = body.replace('"username"', '"current_password"')
    response = client.open(
        path, method=method, data=body, content_type="application/json", headers=admin_headers
    )

    status = response.status_code
    assert 400 <= status < 500, response.text
    message = json_error(response, status)
    if method == "POST":  # the body as written above, so the reason is known
        assert reason in message
