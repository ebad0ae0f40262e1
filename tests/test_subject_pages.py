"""Study staff's pages through the test client: the subjects list, a new
subject, a subject's page and its edit form, recording consent.

Staff are plain users (no admin rights). The subjects are made through the
JSON API or the pages themselves; every message a page shows is the JSON
API's. Every test runs on SQLite and PostgreSQL. QR codes, links and
withdrawal: tests/test_subject_qrcode.py.
"""

import re

import pytest
from admin_helpers import flashes, post_form, sign_in
from conftest import ADMIN, USER
from study_helpers import JANE, STUDY_CONFIG, consented_subject, create_subject

from idm.models import AuditEvent, Subject, db
from idm.study import state, subjects


@pytest.fixture
def app_config():
    return STUDY_CONFIG


@pytest.fixture
def staff(client, user):
    """A client signed in to the pages as study staff: a plain user."""
    assert sign_in(client, *USER).status_code == 302
    return client


@pytest.fixture
def api(app, user_headers):
    """Headers of a staff token, to set subjects up through the JSON API."""
    return user_headers


def sssids(html):
    return re.findall(r'<th scope="row" class="sssid"><a href="[^"]+">([^<]+)</a>', html)


def field_error(html, name):
    match = re.search(rf'<p id="{name}-error" class="field-error">([^<]*)</p>', html)
    return match and match.group(1)


def value_of(html, name):
    return re.search(rf'<input id="{name}" name="{name}" type="\w+" value="([^"]*)"', html).group(1)


def test_staff_and_admins_land_on_the_subjects_list(client, user):
    response = sign_in(client, *USER)
    assert response.headers["Location"] == "/subjects"
    page = client.get("/subjects")
    assert "<title>Subjects · IDM</title>" in page.text
    assert 'aria-current="page">Subjects<' in page.text
    assert "No subjects yet." in page.text
    assert ">Users<" not in page.text  # no user management for staff
    assert client.get("/admin").status_code == 403
    post_form(client, "/subjects", "/logout")
    assert sign_in(client, *ADMIN).headers["Location"] == "/subjects"


@pytest.mark.parametrize(
    "path",
    [
        "/subjects",
        "/new-subject",
        "/subjects/S-0042",
        "/subjects/S-0042/consent",
        "/subjects/S-0042/links/abc/qrcode",
        "/subjects/S-0042/links/abc/withdraw",
    ],
)
def test_every_page_needs_a_session(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"


@pytest.mark.parametrize(
    "path",
    ["/new-subject", "/subjects/S-0042", "/subjects/S-0042/consent", "/subjects/S-0042/qrcode"],
)
def test_every_form_needs_its_csrf_token(app, staff, api, client, path):
    create_subject(client, api)
    response = staff.post(path, data={"sssid": "S-9", "name": "X", "bday": "1990-01-01"})
    assert response.status_code == 400
    assert "The CSRF token is missing." in response.text
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Subject)) == 1


def test_staff_create_a_subject(app, staff):
    form = {**JANE, "email": ""}
    response = post_form(staff, "/new-subject", "/new-subject", **form)
    assert response.headers["Location"] == "/subjects/S-0042"
    page = staff.get("/subjects/S-0042")
    assert "Created subject S-0042, Jane Roe." in flashes(page.text)
    assert "<title>S-0042, Jane Roe · IDM</title>" in page.text
    assert '<span class="status pending">pending</span>' in page.text
    with app.app_context():
        event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.subject == "S-0042"))
        assert event.action == "subject.create" and event.detail == "create"
        assert db.session.scalar(db.select(Subject.email)) is None  # "" means none


def test_a_refused_subject_shows_each_message_next_to_its_field(app, staff):
    typed = {"sssid": "S 42", "name": "  ", "bday": "1980-02-30", "email": "jane(at)example.org"}
    response = post_form(staff, "/new-subject", "/new-subject", **typed)
    assert response.status_code == 400
    assert field_error(response.text, "sssid").startswith("sssid must be 1 to 64 of")
    assert field_error(response.text, "name") == "name must not be empty"
    assert field_error(response.text, "bday") == "bday 1980-02-30 is not a date of the calendar"
    assert field_error(response.text, "email").startswith("email must be an email address")
    assert 'aria-describedby="sssid-error sssid-help" aria-invalid="true"' in response.text
    for name, text in typed.items():
        assert value_of(response.text, name) == text  # kept as typed
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Subject)) == 0


def test_a_taken_sssid_is_a_409_next_to_the_sssid(staff, api, client):
    create_subject(client, api)
    response = post_form(staff, "/new-subject", "/new-subject", **{**JANE, "name": "Other"})
    assert response.status_code == 409
    assert field_error(response.text, "sssid") == "sssid S-0042 is already taken"
    assert value_of(response.text, "name") == "Other"


def test_the_messages_are_the_json_apis(staff, api, client):
    """The same domain function answers both: the page's message is the API's."""
    bad = {"sssid": "S-1", "name": "Jane", "bday": "2999-01-01"}
    message = client.post("/subject", json=bad, headers=api).json["error"]["message"]
    page = post_form(staff, "/new-subject", "/new-subject", **bad)
    assert field_error(page.text, "bday") == message == "bday must be between 1900-01-01 and today"


def test_staff_edit_a_subject_but_not_its_sssid(app, staff, api, client):
    create_subject(client, api)
    page = staff.get("/subjects/S-0042")
    assert 'name="sssid"' not in page.text  # fixed once created
    response = post_form(
        staff, "/subjects/S-0042", "/subjects/S-0042",
        sssid="S-9", name="Jane Doe", bday="1980-05-02", email="",
    )  # fmt: skip
    assert response.headers["Location"] == "/subjects/S-0042"
    page = staff.get("/subjects/S-0042")
    assert "Saved the changes." in flashes(page.text)
    assert value_of(page.text, "name") == "Jane Doe"
    assert "update name: &#34;Jane Doe&#34;; bday: &#34;1980-05-02&#34;; email: null" in page.text
    with app.app_context():
        assert db.session.scalar(db.select(Subject.sssid)) == "S-0042"
    again = post_form(
        staff, "/subjects/S-0042", "/subjects/S-0042", name="Jane Doe", bday="1980-05-02"
    )
    assert "Nothing to save: no field changed." in flashes(staff.get(again.location).text)


def test_a_refused_edit_keeps_what_was_typed(app, staff, api, client):
    create_subject(client, api)
    response = post_form(
        staff, "/subjects/S-0042", "/subjects/S-0042", name="Jane Doe", bday="01.05.1980"
    )
    assert response.status_code == 400
    assert field_error(response.text, "bday") == "bday must be a date written YYYY-MM-DD"
    assert value_of(response.text, "bday") == "01.05.1980"
    assert value_of(response.text, "name") == "Jane Doe"
    assert field_error(response.text, "name") is None
    with app.app_context():
        assert db.session.scalar(db.select(Subject.name)) == "Jane Roe"  # nothing saved


def test_an_unknown_subject_is_a_404_page(staff):
    for path in ("/subjects/S-404", "/subjects/S-404/consent", "/subjects/not%20an%20sssid"):
        response = staff.get(path)
        assert response.status_code == 404
        assert response.mimetype == "text/html"


def test_the_list_by_name_with_search_status_and_page_size(staff, api, client):
    for number in range(12):
        create_subject(client, api, sssid=f"S-{number:02}", name=f"Name {11 - number:02}")
    consented_subject(client, api, sssid="S-99", name="Zoe Consented", bday="1975-03-04")
    page = staff.get("/subjects?perpage=10")
    assert sssids(page.text)[4:] == [f"S-{number:02}" for number in range(11, 1, -1)]
    assert sssids(page.text)[:4] == ["S-99", "S-11", "S-10", "S-09"]  # recently changed
    assert "13 subjects, by name" in page.text and "Page 1 of 2" in page.text
    assert 'href="/subjects?page=2&amp;perpage=10"' in page.text
    second = staff.get("/subjects?perpage=10&page=2")
    assert sssids(second.text) == ["S-01", "S-00", "S-99"]  # no recent block further on
    found = staff.get("/subjects?search=zoe")
    assert sssids(found.text) == ["S-99"] and "1 subject matching “zoe”" in found.text
    assert sssids(staff.get("/subjects?search=1975-03").text) == ["S-99"]
    consented = staff.get("/subjects?status=consented")
    assert sssids(consented.text) == ["S-99"]
    assert '<option value="consented" selected>' in consented.text
    assert "No subjects match." in staff.get("/subjects?status=enrolled").text


@pytest.mark.parametrize(
    "query, message",
    [
        ("status=done", "status must be one of pending, invited, consented, enrolled, withdrawn"),
        ("perpage=101", "perpage must be at most 100"),
        ("perpage=0", "perpage must be at least 1"),
        ("page=x", "page must be a whole number"),
    ],
)
def test_a_bad_list_parameter_is_a_400_page_naming_it(staff, query, message):
    response = staff.get("/subjects?" + query)
    assert response.status_code == 400
    assert message in response.text


def test_a_row_offers_consent_until_it_is_recorded_and_then_the_qr_code(staff, api, client):
    create_subject(client, api)
    row = staff.get("/subjects?search=S-0042").text
    assert 'href="/subjects/S-0042/consent?search=S-0042">Record consent' in row
    assert re.search(r"<button type=\"button\" class=\"secondary\" disabled>QR code", row)
    question = staff.get("/subjects/S-0042/consent?search=S-0042")
    assert "<h1>Record the consent of Jane Roe?</h1>" in question.text
    assert 'href="/subjects?search=S-0042">Cancel' in question.text
    response = post_form(
        staff, "/subjects/S-0042/consent", "/subjects/S-0042/consent", search="S-0042"
    )
    assert response.headers["Location"] == "/subjects?search=S-0042"  # the list as it was
    row = staff.get(response.location).text
    assert "Recorded the consent of Jane Roe (S-0042)." in flashes(row)
    assert "Record consent" not in row
    assert 'action="/subjects/S-0042/qrcode"' in row
    assert '<span class="status consented">consented</span>' in row


def test_consent_is_recorded_once(staff, api, client):
    consented_subject(client, api)
    response = post_form(staff, "/subjects/S-0042", "/subjects/S-0042/consent", back="subject")
    assert response.headers["Location"] == "/subjects/S-0042"
    page = staff.get(response.location).text
    assert "subject has already been consented" in flashes(page)
    events = client.get("/subject/S-0042/audits", headers=api).json["data"]
    assert [event["action"] for event in events].count("consented: 2026-11-24T16:40:00+00:00") == 1


def test_the_status_in_python_is_the_status_in_sql(app, api, client):
    """SubjectView.status and the SQL status are made from one list (state.STAGES)."""
    create_subject(client, api, sssid="S-1")
    client.put("/subject/S-1", json={"date_invited": "2026-01-01"}, headers=api)
    consented_subject(client, api, sssid="S-2")
    with app.app_context():
        for view in (subjects.find(sssid) for sssid in ("S-1", "S-2")):
            query = db.select(state.status).where(Subject.id == view.subject.id)
            assert view.status == db.session.scalar(query)
        assert [subjects.find(s).status for s in ("S-1", "S-2")] == ["invited", "consented"]
