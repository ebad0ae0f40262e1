"""The pictures in README.md and docs/: taken from the real pages, with believable data.

Written to tests/artifacts/docs/ on every run; ``make screenshots`` copies
them into docs/, so a change to a page comes with its new picture.
"""

import urllib.request

import pytest
import test_admin_browser
from conftest import LiveServer, http_json
from study_helpers import LINK_SECRET, patient
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
# A study's subjects: (sssid, name, birthday, what happened to them).
SUBJECTS = [
    ("C3-0101", "Amelia Novak", "1984-03-12", "enrolled"),
    ("C3-0102", "Bruno Costa", "1979-11-02", "consented"),
    ("C3-0103", "Chiara Bianchi", "1991-07-23", "pending"),
    ("C3-0104", "Dmitri Volkov", "1968-01-30", "withdrawn"),
    ("C3-0105", "Esther Mensah", "1975-09-14", "pending"),
    ("C3-0106", "Farid Rahimi", "1988-05-05", "consented"),
    ("C3-0107", "Greta Lindqvist", "1962-12-19", "pending"),
]


@pytest.fixture
def site(tmp_path):
    server = LiveServer(tmp_path, settings=f"IDM_LINK_SECRET = {LINK_SECRET!r}\n")
    server.init_admin(*ADMIN)
    token = login(server, *ADMIN)
    create(server, token, *FORMER_ADMIN, admin=True)
    former = login(server, *FORMER_ADMIN)
    for number, name in enumerate(PEOPLE):
        create(server, former if number >= 6 else token, f"{name}@example.org", password(name))
    # The study's work first: the audit log's first page shows the users' events.
    seed_study(server, login(server, "elena.rossi@example.org", password("elena.rossi")))
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


def seed_study(server, token):
    """The subjects, as staff and the app made them: consent, a link, the app, a withdrawal."""
    consent = {"date_consented": "2026-11-24T09:30:00+01:00"}
    for sssid, name, bday, stage in SUBJECTS:
        body = {"sssid": sssid, "name": name, "bday": bday}
        assert http_json(server.url + "/subject", "POST", body, token)[0] == 201
        if stage == "pending":
            continue
        assert http_json(server.url + f"/subject/{sssid}", "PUT", consent, token)[0] == 200
        if stage == "consented":
            continue
        _, _, link = http_json(server.url + f"/subject/{sssid}/links", "POST", token=token)
        jti = link["data"]["_id"]
        app = patient(value=f"patient-{sssid.lower()}")
        assert http_json(server.url + "/establish", "POST", app, link_jwt(server, jti, token))[0]
        if stage == "withdrawn":
            withdrawal = {"withdrawn_on": "2026-12-01T14:00:00+01:00"}
            assert http_json(server.url + f"/link/{jti}", "PUT", withdrawal, token)[0] == 200


def link_jwt(server, jti, token):
    """The bare JWT of GET /link/<jti>/jwt (not JSON)."""
    request = urllib.request.Request(server.url + f"/link/{jti}/jwt")
    request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()


def shoot(tab, name, phone=False, whole=False):
    """The page at desktop size (the first screen, or *whole*), and on a phone, whole."""
    DOCS.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=DOCS / f"{name}-desktop.png", full_page=whole)
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
        assert elena.page.title() == "Subjects · IDM"
        assert elena.page.locator("table.subjects").count() == 2  # recently changed, all
        shoot(elena, "subjects", phone=True)
        elena.click(elena.page.get_by_role("link", name="C3-0101").first)
        assert elena.page.locator("table.links .link-state").all_inner_texts() == ["linked"]
        shoot(elena, "subject", phone=True, whole=True)
        elena.open("/subjects?search=C3-0102")
        elena.click(elena.page.get_by_role("button", name="QR code for C3-0102"))
        assert elena.page.title() == "QR code of C3-0102 · IDM"
        shoot(elena, "subject-qrcode", phone=True)
        elena.open("/account")
        shoot(elena, "account")
        sign_in(tab, *ADMIN)
        tab.open("/admin")
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
