"""The pictures in README.md and docs/: taken from the real pages, with believable data.

Written to tests/artifacts/docs/ on every run; ``make screenshots`` copies
them into docs/, so a change to a page comes with its new picture.
"""

import pytest
from conftest import LiveServer, http_json
from test_admin_browser import ARTIFACTS, DESKTOP, PHONE, Tab, browser, sign_in  # noqa: F401

pytestmark = pytest.mark.slow

ADMIN = ("maria.schmidt@example.org", "maria's admin password")
PEOPLE = [
    "amir.haddad",
    "chen.wei",
    "daniel.okafor",
    "elena.rossi",
    "fatima.zahra",
    "george.miller",
    "hana.sato",
    "ivan.petrov",
]
DOCS = ARTIFACTS / "docs"


@pytest.fixture
def site(tmp_path):
    server = LiveServer(tmp_path)
    server.init_admin(*ADMIN)
    token = login(server, *ADMIN)
    for name in PEOPLE:
        body = {"username": f"{name}@example.org", "password": f"{name} password 1"}
        assert http_json(server.url + "/user", "POST", body, token)[0] == 201
    for name in PEOPLE[1::3]:
        login(server, f"{name}@example.org", f"{name} password 1")
    for _ in range(5):  # a locked account, as the list shows it
        wrong = {"username": "fatima.zahra@example.org", "password": "not her password"}
        http_json(server.url + "/auth", "POST", wrong)
    yield server
    server.stop()


def login(server, username, password):
    status, _, body = http_json(
        server.url + "/auth", "POST", {"username": username, "password": password}
    )
    assert status == 200, body
    return body["access_token"]


def shoot(tab, name, phone=False):
    DOCS.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=DOCS / f"{name}-desktop.png")
    if phone:
        tab.page.set_viewport_size(PHONE)
        tab.page.screenshot(path=DOCS / f"{name}-phone.png", full_page=True)
        tab.page.set_viewport_size(DESKTOP)


def test_pictures_for_the_docs(browser, site):  # noqa: F811
    tab = Tab(browser, site.url)
    try:
        tab.open("/")
        shoot(tab, "home")
        sign_in(tab, *ADMIN)
        assert tab.page.locator("tbody tr").count() == len(PEOPLE) + 1
        assert tab.page.locator(".badge.locked").count() == 1
        shoot(tab, "admin-users", phone=True)
        tab.open("/admin/audit")
        assert tab.page.locator("tbody tr").count() > 10
        shoot(tab, "admin-audit")
    finally:
        tab.close()
