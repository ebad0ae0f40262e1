"""A subject's QR code, links and withdrawal on the pages, through the test client.

The QR code is read back from the page's SVG with zxing-cpp (qr_reader.py)
and must hold the link's JWT, which the app verifies with the link secret.
Every test runs on SQLite and PostgreSQL.
"""

import re

import pytest
from admin_helpers import flashes, post_form, sign_in
from conftest import ADMIN, USER, login
from qr_reader import dark_modules, read_svg
from study_helpers import (
    LINK_SECRET,
    STUDY_CONFIG,
    consented_subject,
    create_subject,
    decode,
    establish,
    link_jwt,
    new_link,
)

from idm import qr
from idm.models import Link, db


@pytest.fixture
def app_config():
    return STUDY_CONFIG


@pytest.fixture
def staff(client, user):
    assert sign_in(client, *USER).status_code == 302
    return client


@pytest.fixture
def api(user_headers):
    return user_headers


def show_qr_code(staff, sssid="S-0042"):
    """The list's or the subject page's "QR code" button; returns the redirect."""
    return post_form(staff, f"/subjects/{sssid}", f"/subjects/{sssid}/qrcode")


def svg_of(html):
    return re.search(r"<svg .*?</svg>", html, re.S).group(0)


def links_of(client, api, sssid="S-0042"):
    return client.get(f"/subject/{sssid}/links", headers=api).json["data"]


def test_the_qr_code_holds_the_links_jwt(staff, api, client):
    consented_subject(client, api)
    response = show_qr_code(staff)
    [link] = links_of(client, api)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/subjects/S-0042/links/{link['_id']}/qrcode"
    page = staff.get(response.location)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    token = read_svg(svg_of(page.text))
    assert token == link_jwt(client, api, link["_id"])  # what GET /link/<jti>/jwt answers
    claims = decode(token, LINK_SECRET)
    assert claims["jti"] == link["_id"]
    assert (claims["sub"], claims["birthdate"]) == ("Jane Roe", "1980-05-01")
    assert "<title>QR code of S-0042 · IDM</title>" in page.text
    assert re.search(rf'until\s+<time datetime="{re.escape(link["exp"])}">', page.text)


def test_the_svg_fits_the_content_security_policy(staff, api, client):
    """No inline style or script, which ``style-src 'self'`` and ``script-src 'self'``
    would refuse; colours are SVG presentation attributes."""
    consented_subject(client, api)
    page = staff.get(show_qr_code(staff).location)
    svg = svg_of(page.text)
    assert "style-src 'self'" in page.headers["Content-Security-Policy"]
    assert not re.search(r"\sstyle=|<style|<script|\son\w+=|javascript:", page.text, re.I)
    assert re.match(r'<svg role="img" viewBox="0 0 \d+ \d+" class="qr-code"><title>', svg)
    assert 'stroke="#000"' in svg and 'fill="#fff"' in svg
    assert "width=" not in svg.split(">")[0]  # the stylesheet sizes it


def test_the_svg_reader_reads_what_segno_drew():
    """qr_reader's modules are segno's matrix: the test's reading is not a guess."""
    import segno

    text = "a link JWT stand-in"
    code = segno.make_qr(text, error=qr.ERROR, boost_error=False)
    dark, size = dark_modules(str(qr.svg(text, "t")))
    border = (size - len(code.matrix)) // 2
    expected = {
        (column + border, row + border)
        for row, line in enumerate(code.matrix)
        for column, module in enumerate(line)
        if module
    }
    assert border == 4 and dark == expected


def test_a_waiting_link_is_reused_and_a_closed_one_is_not(staff, api, client, fake_clock):
    consented_subject(client, api)
    first = show_qr_code(staff).location
    assert show_qr_code(staff).location == first  # a reload hands out the same link
    assert len(links_of(client, api)) == 1

    fake_clock.advance(24 * 3600 + 1)  # IDM_LINK_LIFETIME: the first link expired
    sign_in(staff, *USER)  # the session ended meanwhile (idle)
    api = login(client, *USER)  # and so did the token
    second = show_qr_code(staff).location
    assert second != first and len(links_of(client, api)) == 2
    expired = staff.get(first)
    assert expired.status_code == 410 and "link has expired" in expired.text

    token = read_svg(svg_of(staff.get(second).text))
    assert establish(client, token).status_code == 204
    third = show_qr_code(staff).location  # linked: not handed out again
    assert third not in (first, second) and len(links_of(client, api)) == 3
    assert "link is established already" in staff.get(second).text


def test_no_qr_code_before_consent_nor_after_withdrawal(staff, api, client):
    create_subject(client, api)
    page = staff.get("/subjects/S-0042").text
    assert re.search(r'<button type="button" class="secondary" disabled>QR code', page)
    refused = show_qr_code(staff)
    assert refused.status_code == 412
    assert "subject S-0042 has not consented yet" in refused.text
    assert links_of(client, api) == []


def test_withdrawal_after_a_question_closes_every_link(app, staff, api, client):
    consented_subject(client, api)
    waiting = show_qr_code(staff).location
    jti = links_of(client, api)[0]["_id"]
    question = staff.get(f"/subjects/S-0042/links/{jti}/withdraw")
    assert "<h1>Has Jane Roe withdrawn from the study?</h1>" in question.text
    assert 'href="/subjects/S-0042">Cancel' in question.text
    path = f"/subjects/S-0042/links/{jti}/withdraw"
    response = post_form(staff, path, path)
    assert response.headers["Location"] == "/subjects/S-0042"
    page = staff.get(response.location).text
    assert "Jane Roe (S-0042) has withdrawn from the study." in flashes(page)
    assert '<span class="status withdrawn">withdrawn</span>' in page
    assert '<span class="link-state withdrawn">withdrawn</span>' in page
    assert ">Withdraw<" not in page  # nothing left to withdraw
    assert re.search(r"\[Link\] withdrawn: \d{4}-", page)
    assert staff.get(waiting).status_code == 410
    refused = show_qr_code(staff)
    assert refused.status_code == 409
    assert "subject S-0042 has withdrawn from the study" in refused.text
    again = post_form(staff, "/subjects/S-0042", path)
    assert "link was already withdrawn" in flashes(staff.get(again.location).text)


def test_the_links_table_says_each_links_state(app, staff, api, client, fake_clock):
    consented_subject(client, api)
    new_link(client, api)  # expires
    fake_clock.advance(24 * 3600 + 1)
    sign_in(staff, *USER)  # the session ended meanwhile (idle)
    api = login(client, *USER)  # and so did the token
    linked = new_link(client, api)
    assert establish(client, link_jwt(client, api, linked["_id"])).status_code == 204
    fake_clock.advance(1)  # oldest first; links made in the same instant go by jti
    waiting = new_link(client, api)
    page = staff.get("/subjects/S-0042").text
    states = re.findall(r'<span class="link-state (\w+)">', page)
    assert states == ["expired", "linked", "waiting"]
    assert "linked to 2a0ab8f6-1c5e-4f41-9d0e-7c3f5b7a8e11 (https://data.example.org/fhir)" in page
    assert f'href="/subjects/S-0042/links/{waiting["_id"]}/qrcode">QR code' in page
    assert page.count(">Withdraw<") == 3
    assert '<span class="status enrolled">enrolled</span>' in page

    path = f"/subjects/S-0042/links/{linked['_id']}/withdraw"
    post_form(staff, path, path)
    page = staff.get("/subjects/S-0042").text
    states = re.findall(r'<span class="link-state (\w+)">', page)
    assert states == ["expired", "withdrawn", "closed"]


def test_the_activity_log_says_who_did_what(staff, api, client):
    consented_subject(client, api)
    token = read_svg(svg_of(staff.get(show_qr_code(staff).location).text))
    assert establish(client, token).status_code == 204
    page = staff.get("/subjects/S-0042").text
    who = r'<td data-label="Who" class="who">([^<]*)</td>\s*'
    rows = re.findall(who + r'<td data-label="What" class="what">([^<]*)', page)
    assert rows == [
        (USER[0], "create"),
        (USER[0], "consented: 2026-11-24T16:40:00+00:00"),
        (USER[0], "[Link] create"),
        ("the app or the command line", "[Link] link to 2a0ab8f6-1c5e-4f41-9d0e-7c3f5b7a8e11"),
    ]


def test_a_link_of_another_subject_or_none_is_a_404(staff, api, client):
    consented_subject(client, api)
    consented_subject(client, api, sssid="S-7")
    other = new_link(client, api, "S-7")["_id"]
    for path in (
        f"/subjects/S-0042/links/{other}/qrcode",
        f"/subjects/S-0042/links/{other}/withdraw",
        "/subjects/S-0042/links/no-such-link/qrcode",
        "/subjects/S-0042/links/not%20a%20jti/withdraw",
    ):
        assert staff.get(path).status_code == 404, path
    response = post_form(staff, "/subjects/S-0042", f"/subjects/S-0042/links/{other}/withdraw")
    assert response.status_code == 404
    assert links_of(client, api, "S-7")[0]["withdrawn_on"] is None


def test_admins_use_the_same_pages(app, client, admin, api):
    consented_subject(client, api)
    sign_in(client, *ADMIN)
    page = client.get(show_qr_code(client).location)
    assert page.status_code == 200 and read_svg(svg_of(page.text)).count(".") == 2
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Link)) == 1


def test_every_study_page_keeps_to_the_policy(staff, api, client):
    """No inline script or style on any study page, and none may be cached."""
    consented_subject(client, api)
    jti = new_link(client, api)["_id"]
    pages = ["/subjects", "/new-subject", "/subjects/S-0042", "/subjects/S-0042/consent"]
    pages += [f"/subjects/S-0042/links/{jti}/qrcode", f"/subjects/S-0042/links/{jti}/withdraw"]
    for path in pages:
        response = staff.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
        html = response.text
        assert "<script" not in html and "style=" not in html and "<style" not in html, path
