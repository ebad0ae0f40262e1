"""Helpers for the admin page tests: sign in and post forms as a browser would."""

import re

from conftest import csrf_token


def sign_in(client, username, password):
    """Post the sign-in form with its CSRF token; returns the response."""
    page = client.get("/login")
    form = {"csrf_token": csrf_token(page.text), "username": username, "password": password}
    return client.post("/login", data=form)


def post_form(client, page_path, action_path, **fields):
    """Open *page_path* for a fresh CSRF token, then post *fields* to *action_path*."""
    token = csrf_token(client.get(page_path).text)
    return client.post(action_path, data={"csrf_token": token, **fields})


def flashes(html):
    """The text of the flash messages at the top of a page."""
    return [
        re.sub(r"\s+", " ", text).strip()
        for text in re.findall(r'<p class="flash [^"]*" role="\w+">(.*?)</p>', html, re.S)
    ]
