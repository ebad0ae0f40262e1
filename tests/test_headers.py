"""Security headers: every HTML page, every JSON answer, set in one hook."""

import pytest
from admin_helpers import sign_in
from conftest import ADMIN, BROWSER_ACCEPT, csrf_token

from idm.models import User, db

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


@pytest.mark.parametrize("path", ["/init", "/login", "/admin/nowhere"])
def test_html_pages_carry_security_headers(client, path):
    response = client.get(path, headers={"Accept": BROWSER_ACCEPT})
    assert response.mimetype == "text/html"
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name
    policy = response.headers["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
    ):
        assert directive in policy
    assert "unsafe-inline" not in policy


def test_admin_pages_carry_security_headers(client, admin):
    sign_in(client, *ADMIN)
    response = client.get("/admin")
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert response.headers["Cache-Control"] == "no-store"


def test_pages_have_no_inline_script_or_style(app, client, admin):
    sign_in(client, *ADMIN)
    with app.app_context():
        me = db.session.scalar(db.select(User.id).where(User.username == ADMIN[0]))
    pages = ["/admin", "/admin/users/new", "/password", "/account", "/init", "/admin/audit"]
    pages += [f"/admin/users/{me}", f"/admin/users/{me}/admin", f"/admin/users/{me}/delete"]
    for path in pages:
        html = client.get(path).text
        assert "<script" not in html and "style=" not in html and "<style" not in html, path


def test_json_answers_are_not_sniffed_or_cached(client):
    for path in ("/", "/nowhere"):
        response = client.get(path)
        assert response.mimetype == "application/json"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
        assert (
            response.headers["Content-Security-Policy"]
            == "default-src 'none'; frame-ancestors 'none'"
        )


def test_stylesheet_may_be_cached(client):
    response = client.get("/static/style.css")
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" not in response.headers.get("Cache-Control", "")


def test_forms_work_over_https_behind_a_proxy(make_app):
    """Pages send no Referer (Referrer-Policy: no-referrer), so forms must
    work over HTTPS without one: Flask-WTF's strict Referer check is off."""
    client = make_app(IDM_PROXY_COUNT=1).test_client()
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "idm.example.org"}
    page = client.get("/init", headers=https)
    assert page.headers["Referrer-Policy"] == "no-referrer"

    form = {"csrf_token": csrf_token(page.text), "username": ADMIN[0]}
    form.update(password=ADMIN[1], password2=ADMIN[1])
    assert client.post("/init", data=form, headers=https).status_code == 201
