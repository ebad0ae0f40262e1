"""A subject's activity log (GET /subject/<sssid>/audits), and the same events in the audit log."""

import re

import pytest
from admin_helpers import sign_in
from conftest import ADMIN, USER, json_error
from study_helpers import (
    PATIENT_ID,
    STUDY_CONFIG,
    create_subject,
    establish,
    link_jwt,
    new_link,
)

from idm import audit


@pytest.fixture
def app_config():
    return STUDY_CONFIG


@pytest.fixture
def story(client, staff, fake_clock):
    """A subject's life: created, changed, invited, consented, linked, withdrawn."""
    steps = [
        lambda: create_subject(client, staff, email=None),
        lambda: client.put(
            "/subject/S-0042",
            json={"name": "Jane Smith", "email": "jane@example.org"},
            headers=staff,
        ),
        lambda: client.put("/subject/S-0042", json={"date_invited": "2026-11-20"}, headers=staff),
        lambda: client.put(
            "/subject/S-0042", json={"date_consented": "2026-11-24T17:40:00+01:00"}, headers=staff
        ),
        lambda: new_link(client, staff),
    ]
    for step in steps:
        step()
        fake_clock.advance(1)
    jti = client.get("/subject/S-0042/links", headers=staff).json["data"][0]["_id"]
    assert establish(client, link_jwt(client, staff, jti)).status_code == 204
    fake_clock.advance(1)
    client.put(f"/link/{jti}", json={"withdrawn_on": "2026-11-30"}, headers=staff)
    return jti


def test_the_activity_log_tells_the_subjects_story_oldest_first(client, staff, story):
    response = client.get("/subject/S-0042/audits", headers=staff)

    assert response.status_code == 200
    log = response.json["data"]
    assert [(row["actor"], row["action"]) for row in log] == [
        (USER[0], "create"),
        (USER[0], 'update name: "Jane Smith"; email: "jane@example.org"'),
        (USER[0], "invited: 2026-11-20T00:00:00+00:00"),
        (USER[0], "consented: 2026-11-24T16:40:00+00:00"),
        (USER[0], "[Link] create"),
        (None, f"[Link] link to {PATIENT_ID}"),  # the app: no account
        (USER[0], "[Link] withdrawn: 2026-11-30T00:00:00+00:00"),
    ]
    assert all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", row["datetime"]) for row in log
    )
    assert [row["datetime"] for row in log] == sorted(row["datetime"] for row in log)


def test_one_subjects_log_holds_no_other_subjects_events(client, staff, story):
    create_subject(client, staff, sssid="S-0043")

    log = client.get("/subject/S-0043/audits", headers=staff).json["data"]

    assert [row["action"] for row in log] == ["create"]


def test_a_subject_created_with_dates_logs_them(client, staff):
    create_subject(client, staff, date_invited="2026-11-20", date_consented="2026-11-21")

    log = client.get("/subject/S-0042/audits", headers=staff).json["data"]

    assert [row["action"] for row in log] == [
        "create",
        "invited: 2026-11-20T00:00:00+00:00",
        "consented: 2026-11-21T00:00:00+00:00",
    ]


def test_unknown_subject_has_no_log(client, staff):
    response = client.get("/subject/S-9/audits", headers=staff)
    assert json_error(response, 404) == "no subject S-9"


def test_subject_events_in_the_audit_log_by_sssid(client, admin_headers, story):
    response = client.get("/audit?subject=S-0042&perpage=20", headers=admin_headers)

    assert response.status_code == 200
    rows = response.json["data"]
    assert response.json["total"] == 7
    assert [row["action"] for row in reversed(rows)] == [
        "subject.create",
        "subject.update",
        "subject.invite",
        "subject.consent",
        "link.create",
        "link.establish",
        "link.withdraw",
    ]
    assert {row["subject"] for row in rows} == {"S-0042"}
    assert rows[1]["detail"] == f"link to {PATIENT_ID}" and rows[1]["actor"] is None
    assert rows[0]["target"] is None and rows[0]["target_username"] is None
    consent = client.get("/audit?subject=S-0042&action=subject.consent", headers=admin_headers)
    assert [row["detail"] for row in consent.json["data"]] == [
        "consented: 2026-11-24T16:40:00+00:00"
    ]


def test_the_staff_member_finds_their_subject_events_by_user(client, admin_headers, story):
    rows = client.get(f"/audit?user={USER[0]}&perpage=50", headers=admin_headers).json["data"]

    assert {"subject.create", "link.withdraw"} <= {row["action"] for row in rows}


def test_the_new_actions_are_known_filters(client, admin_headers):
    for action in ("subject.create", "link.establish"):
        assert action in audit.ACTIONS
        assert client.get(f"/audit?action={action}", headers=admin_headers).status_code == 200


def test_the_admin_audit_page_shows_and_filters_subject_events(client, story):
    assert sign_in(client, *ADMIN).status_code == 302

    page = client.get("/admin/audit?subject=S-0042")

    assert page.status_code == 200
    assert "<title>Audit log (subject S-0042) · Admin · IDM</title>" in page.text
    assert "7 events match, newest first" in page.text
    assert 'name="subject" type="text" value="S-0042"' in page.text
    assert page.text.count('class="who">subject S-0042<') == 7
    assert f'link.establish<br><span class="detail">link to {PATIENT_ID}</span>' in page.text
    everything = client.get("/admin/audit").text
    assert "subject.consent" in everything and "user.create" in everything


def test_the_admin_audit_page_keeps_the_subject_filter_across_pages(app, client, staff):
    create_subject(client, staff)
    for number in range(app.config["IDM_AUDIT_PER_PAGE"]):
        body = {"name": f"Jane Roe {number}"}
        assert client.put("/subject/S-0042", json=body, headers=staff).status_code == 200
    assert sign_in(client, *ADMIN).status_code == 302

    page = client.get("/admin/audit?subject=S-0042")

    assert "Page 1 of 2" in page.text
    next_page = re.search(r'<a rel="next" href="([^"]+)"', page.text).group(1)
    assert "subject=S-0042" in next_page
    second = client.get(next_page.replace("&amp;", "&"))
    assert second.text.count('class="who">subject S-0042<') == 1
