"""Study staff's pages in a real browser: Debian's Chromium through Playwright,
against gunicorn on SQLite and PostgreSQL.

A staff user (no admin rights) signs in, creates a subject, records consent
and opens the QR code, all with the keyboard alone. The code is read back
from the page's SVG twice, from its modules and from Chromium's picture of
it, and holds the link JWT; the test then plays the study's app: verifies
the JWT with the link secret and posts a FHIR Patient to ``aud`` +
``establish``. A reload shows the subject enrolled and the app's
``[Link] link to …`` in the activity log. Every page visited is checked at
390 px for sideways scrolling and for refusals of the
Content-Security-Policy (Tab.check, in test_admin_browser.py).
"""

import jwt
import pytest
import test_admin_browser
from conftest import LiveServer, http_json
from qr_reader import read_png, read_svg
from study_helpers import LINK_SECRET, PATIENT_ID, patient
from test_admin_browser import ADMIN, ALICE, api_token, call, sign_in
from test_console_browser import create, press_enter, tab_to

pytestmark = pytest.mark.slow

browser = test_admin_browser.browser
tab = test_admin_browser.tab

STAFF = ALICE  # a plain user: study staff need no admin rights


@pytest.fixture
def live_server(tmp_path, database_uri):
    """gunicorn with the study's link secret, as a study's deployment has it."""
    settings = f"IDM_LINK_SECRET = {LINK_SECRET!r}\n"
    server = LiveServer(tmp_path, database_uri=database_uri, settings=settings)
    server.init_admin(*ADMIN)
    create(server, api_token(server, *ADMIN), *STAFF)
    yield server
    server.stop()


def rows(tab):
    return tab.page.locator("table.subjects tbody tr")


def test_staff_enrol_a_subject_with_the_keyboard_and_the_app_links(tab, live_server):
    sign_in_with_the_keyboard(tab)
    create_a_subject_with_the_keyboard(tab)
    record_consent_with_the_keyboard(tab)
    token = open_the_qr_code_with_the_keyboard(tab)
    play_the_app(token)
    tab.page.keyboard.press("Tab")  # the skip link, then back to the subject
    tab.click(tab.page.get_by_role("link", name="Back to S-0042"))
    assert tab.page.locator("h1 .status").inner_text() == "enrolled"
    activity = tab.page.locator("table.activity tbody tr")
    last = activity.nth(activity.count() - 1)
    assert last.locator(".what").inner_text() == f"[Link] link to {PATIENT_ID}"
    assert last.locator(".who").inner_text() == "the app or the command line"
    assert tab.page.locator("table.links .link-state").all_inner_texts() == ["linked"]
    tab.check("subject-enrolled")

    # Staff have no user management: not in the navigation, a 403 page at /admin.
    assert tab.page.get_by_role("link", name="Users").count() == 0
    with tab.page.expect_navigation() as navigation:
        tab.open("/admin")
    assert navigation.value.status == 403
    assert "admin rights required" in tab.flashes()


def sign_in_with_the_keyboard(tab):
    tab.open("/login")
    tab.wait_for_focus("username")  # autofocus
    tab.page.keyboard.type(STAFF[0])
    tab.page.keyboard.press("Tab")
    tab.page.keyboard.type(STAFF[1])
    press_enter(tab)
    assert tab.page.title() == "Subjects · IDM"  # where everyone lands
    assert "No subjects yet." in tab.page.locator("main").inner_text()
    tab.check("subjects-empty")


def create_a_subject_with_the_keyboard(tab):
    tab_to(tab, tab.page.get_by_role("link", name="New subject"))
    press_enter(tab)
    assert tab.page.title() == "New subject · IDM"
    tab.wait_for_focus("sssid")  # autofocus
    type_fields(tab, "S 0042", "Jane Roe")
    press_enter(tab)
    # Refused: the message next to its field, everything typed still there.
    error = tab.page.locator("#sssid-error")
    assert error.inner_text().startswith("sssid must be 1 to 64 of A-Z a-z 0-9 . _ -")
    assert tab.page.get_by_label("Full name").input_value() == "Jane Roe"
    assert tab.page.get_by_label("Birthday").input_value() == "1980-05-01"
    tab.check("subject-new-error")
    tab.page.get_by_label("SSSID").fill("S-0042")
    tab_to(tab, tab.page.get_by_role("button", name="Create subject"))
    press_enter(tab)
    assert tab.page.title() == "S-0042, Jane Roe · IDM"
    assert "Created subject S-0042, Jane Roe." in tab.flashes()
    assert tab.page.get_by_role("button", name="QR code for S-0042").is_disabled()
    tab.check("subject-new")


def type_fields(tab, sssid, name):
    """SSSID, name and birthday by keys (the date field takes month, day, year);
    the email is optional. Enter in the date field then submits the form."""
    tab.page.keyboard.type(sssid)
    tab.page.keyboard.press("Tab")  # past the SSSID's help text, which is no stop
    tab.page.keyboard.type(name)
    tab.page.keyboard.press("Tab")
    tab.page.keyboard.type("05011980")


def record_consent_with_the_keyboard(tab):
    tab_to(tab, tab.page.get_by_role("link", name="Record consent"))
    press_enter(tab)
    assert tab.page.title() == "Record the consent of S-0042 · IDM"
    tab.check("subject-consent")
    tab_to(tab, tab.page.get_by_role("button", name="Record consent"))
    press_enter(tab)
    assert "Recorded the consent of Jane Roe (S-0042)." in tab.flashes()
    assert tab.page.locator("h1 .status").inner_text() == "consented"


def open_the_qr_code_with_the_keyboard(tab):
    """Opens the QR code and reads it back twice; returns the link JWT it holds."""
    tab_to(tab, tab.page.get_by_role("button", name="QR code for S-0042"))
    press_enter(tab)
    assert tab.page.title() == "QR code of S-0042 · IDM"
    code = tab.page.get_by_role("img", name="QR code linking the study's app to Jane Roe")
    from_modules = read_svg(code.evaluate("(svg) => svg.outerHTML"))
    from_picture = read_png(code.screenshot())
    assert from_modules == from_picture
    tab.check("subject-qrcode")
    return from_picture


def play_the_app(token):
    """What the C3-PRO app does with a scanned code: verify it, then link itself."""
    claims = jwt.decode(token, LINK_SECRET, algorithms=["HS256"], options={"verify_aud": False})
    assert (claims["sub"], claims["birthdate"]) == ("Jane Roe", "1980-05-01")
    status, _, _ = http_json(claims["aud"] + "establish", "POST", patient(), token=token)
    assert status == 204
    return claims


def test_staff_find_subjects_and_withdraw_one(tab, live_server):
    token = api_token(live_server, *STAFF)
    for number, name in enumerate(["Ann Berg", "Bo Chen", "Cy Diaz", "Di Eze", "Ed Falk"]):
        body = {
            "sssid": f"S-{number:04}",
            "name": name,
            "bday": f"19{60 + number}-02-0{number + 1}",
        }
        assert call(live_server.url + "/subject", "POST", body, token)[0] == 201
    consent = {"date_consented": "2026-11-24T17:40:00+01:00"}
    assert call(live_server.url + "/subject/S-0003", "PUT", consent, token)[0] == 200
    sign_in(tab, *STAFF)

    assert tab.page.get_by_role("heading", name="Recently changed").count() == 1
    recent = tab.page.locator("table.subjects").first.locator("tbody tr")
    assert recent.first.locator(".sssid").inner_text() == "S-0003"  # changed last
    tab.check("subjects")

    # The keyboard alone: search by birthday, a status, a page size, Show.
    tab_to(tab, tab.page.get_by_label("Search: SSSID, name or birthday"))
    tab.page.keyboard.type("196")
    tab.page.keyboard.press("Tab")
    tab.page.keyboard.press("ArrowDown")  # from "any" to "pending"
    tab.page.keyboard.press("Tab")
    tab.page.keyboard.press("ArrowUp")  # from 25 to 10
    tab.page.keyboard.press("Tab")
    press_enter(tab)
    assert tab.page.title() == "Subjects (matching “196”, pending) · IDM"
    assert rows(tab).count() == 4  # no recent block, no consented Di Eze
    assert tab.page.get_by_label("Per page").input_value() == "10"
    tab.check("subjects-search")

    tab.page.get_by_label("Status").select_option("consented")
    tab.submit("Show")
    assert rows(tab).locator(".sssid").all_inner_texts() == ["S-0003"]
    withdraw_with_the_keyboard(tab)


def withdraw_with_the_keyboard(tab):
    tab.click(rows(tab).get_by_role("button", name="QR code for S-0003"))
    tab.click(tab.page.get_by_role("link", name="Back to S-0003"))
    assert tab.page.locator("table.links .link-state").all_inner_texts() == ["waiting"]
    tab.check("subject-waiting")
    tab_to(tab, tab.page.get_by_role("link", name="Withdraw", exact=False))
    press_enter(tab)
    assert tab.page.title() == "Withdraw S-0003 · IDM"
    tab.check("subject-withdraw")
    tab_to(tab, tab.page.get_by_role("button", name="Record the withdrawal"))
    press_enter(tab)
    assert "Di Eze (S-0003) has withdrawn from the study." in tab.flashes()
    assert tab.page.locator("h1 .status").inner_text() == "withdrawn"
    assert tab.page.get_by_role("button", name="QR code for S-0003").is_disabled()
    tab.check("subject-withdrawn")


def test_long_names_fit_on_a_phone(tab, live_server):
    token = api_token(live_server, *STAFF)
    long_name = "Maximiliane Theodora " + "Wolkenstein-Rodenegg" * 4
    body = {"sssid": "S-" + "7" * 60, "name": long_name, "bday": "1990-01-01"}
    assert call(live_server.url + "/subject", "POST", body, token)[0] == 201
    sign_in(tab, *STAFF)
    tab.check("subjects-long-name")
    tab.open(f"/subjects/{body['sssid']}")
    tab.check("subject-long-name")
    tab.open(f"/subjects/{body['sssid']}/consent")
    tab.check("subject-consent-long-name")
