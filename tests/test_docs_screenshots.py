"""The pictures in README.md and docs/: taken from the real pages, with believable data.

Written to tests/artifacts/docs/ on every run; ``make screenshots`` copies
them into docs/, so a change to a page comes with its new picture.
"""

import pytest
import test_admin_browser
from conftest import LiveServer, http_json
from test_admin_browser import ARTIFACTS, DESKTOP, PHONE, Tab, sign_in

pytestmark = pytest.mark.slow

browser = test_admin_browser.browser  # the fixture: Debian's Chromium

ADMIN = ("maria.schmidt@example.org", "maria's admin password")
# An admin who created two accounts and has left since: the audit log shows
# her by the address she had.
FORMER_ADMIN = ("olga.ivanova@example.org", "olga's admin password")
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
    create(server, token, *FORMER_ADMIN, admin=True)
    former = login(server, *FORMER_ADMIN)
    for number, name in enumerate(PEOPLE):
        create(server, former if number >= 6 else token, f"{name}@example.org", password(name))
    for name in PEOPLE[1::3]:
        login(server, f"{name}@example.org", password(name))
    for _ in range(5):  # a locked account, as the list shows it
        wrong = {"username": "fatima.zahra@example.org", "password": "not her password"}
        http_json(server.url + "/auth", "POST", wrong)
    _, _, me = http_json(server.url + "/user/me", token=former)
    assert http_json(server.url + f"/user/{me['data']['id']}", "DELETE", token=token)[0] == 204
    yield server
    server.stop()


def password(name):
    return f"{name} password 1"


def create(server, token, username, password, admin=False):
    body = {"username": username, "password": password, "admin": admin}
    status, _, created = http_json(server.url + "/user", "POST", body, token)
    assert status == 201, created


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


def test_pictures_for_the_docs(browser, site):
    elena = Tab(browser, site.url)  # a plain user, at her account page
    tab = Tab(browser, site.url)
    try:
        tab.open("/")
        shoot(tab, "home")
        sign_in(elena, "elena.rossi@example.org", password("elena.rossi"))
        assert elena.page.title() == "My account · IDM"
        shoot(elena, "account")
        sign_in(tab, *ADMIN)
        assert tab.page.locator("tbody tr").count() == len(PEOPLE) + 1
        assert tab.page.locator(".badge.locked").count() == 1
        shoot(tab, "admin-users", phone=True)
        tab.click(tab.page.get_by_role("link", name="fatima.zahra@example.org", exact=True))
        assert tab.page.locator(".badge.locked").count() == 1
        shoot(tab, "admin-user", phone=True)
        tab.open("/admin/audit")
        assert tab.page.locator("tbody tr").count() > 10
        assert tab.page.get_by_text("(deleted)").count() == 3  # her login, two creations
        shoot(tab, "admin-audit")
    finally:
        tab.close()
        elena.close()
