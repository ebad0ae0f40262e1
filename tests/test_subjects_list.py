"""GET /subject: orders, pages from either end, search, status, and the plans that keep it fast."""

from datetime import date

import pytest
from conftest import json_error
from sqlalchemy import text
from study_helpers import JANE, STUDY_CONFIG, create_subject, establish, link_jwt, new_link

from idm.models import db
from idm.study import listing


@pytest.fixture
def app_config():
    return STUDY_CONFIG


# (sssid, name, bday, date_invited, date_consented): equal names and dates on
# purpose, so that the tie-breaker (creation order) shows.
PEOPLE = [
    ("S-07", "Zoe Adams", "1975-03-09", "2026-11-02", None),
    ("S-03", "Al Baker", "1980-05-01", None, "2026-11-05"),
    ("s-03", "al baker", "1980-05-01", "2026-11-01", "2026-11-05"),
    ("S-11", "Müller Änne", "1991-12-24", None, None),
    ("S-05", "Bo Chen", "1980-05-31", "2026-11-02", "2026-11-04"),
    ("S-01", "Al Baker", "2001-01-01", None, "2026-11-03"),
    ("S-09", "Cy 100% Dane", "1980-06-01", "2026-11-03", None),
    ("S-02", "Di_Evans", "1969-07-20", None, None),
    ("S-10", "Ed Fox", "1980-05-01", "2026-11-01", "2026-11-06"),
    ("S-04", "Flo Gray", "1955-10-10", None, None),
    ("S-06", "Gus Hill", "1999-09-09", "2026-11-04", "2026-11-02"),
    ("S-08", "Hal Ives", "1980-04-30", None, None),
]


@pytest.fixture
def people(client, staff, fake_clock):
    """Twelve subjects in creation order; two enrolled, one of them withdrawn later.

    A second between changes, so that ``created`` and ``changed`` as
    answered (to the second) show the order the database keeps.
    """
    for sssid, name, bday, invited, consented in PEOPLE:
        fields = {"sssid": sssid, "name": name, "bday": bday, "email": None}
        fields.update(date_invited=invited, date_consented=consented)
        create_subject(client, staff, **fields)
        fake_clock.advance(1)
    for sssid in ("S-03", "S-10"):
        jti = new_link(client, staff, sssid)["_id"]
        assert establish(client, link_jwt(client, staff, jti)).status_code == 204
        fake_clock.advance(1)
    jti = client.get("/subject/S-10/links", headers=staff).json["data"][0]["_id"]
    client.put(f"/link/{jti}", json={"withdrawn_on": "2026-11-30"}, headers=staff)
    return {row["sssid"]: row for row in all_subjects(client, staff)}


def all_subjects(client, headers, query=""):
    response = client.get("/subject?perpage=100" + query, headers=headers)
    assert response.status_code == 200, response.json
    return response.json["data"]


def expected_order(people, column, descending):
    """Sorted as the contract says: values, nulls last either way, then creation order."""
    created = [row[0] for row in PEOPLE]
    present = [s for s in people if people[s][column] is not None]
    absent = [s for s in people if people[s][column] is None]
    if column == "sssid":
        return sorted(present, reverse=descending)
    ranked = sorted(
        present, key=lambda s: (people[s][column], created.index(s)), reverse=descending
    )
    return ranked + sorted(absent, key=created.index, reverse=descending)


@pytest.mark.parametrize("column", list(listing.ORDER_COLUMNS))
@pytest.mark.parametrize("direction", ["asc", "DESC"])
def test_every_page_of_every_order_from_either_end(client, staff, people, column, direction):
    """Pages of 5 at every offset, read from the start or the end, add up to the order."""
    expected = expected_order(people, column, direction == "DESC")
    if column == "name":  # the same name: case and creation order decide, not the sssid
        assert expected.index("S-03") < expected.index("S-01") or direction == "DESC"

    for offset in range(len(expected) + 1):
        query = f"/subject?ordercol={column}&orderdir={direction}&perpage=5&offset={offset}"
        body = client.get(query, headers=staff).json
        assert body["total"] == len(PEOPLE)
        assert [row["sssid"] for row in body["data"]] == expected[offset : offset + 5], offset


def test_the_defaults_are_name_ascending_fifty_from_the_start(client, staff, people):
    body = client.get("/subject", headers=staff).json

    assert [row["sssid"] for row in body["data"]] == expected_order(people, "name", False)


def test_derived_dates_and_status(client, staff, people):
    enrolled, withdrawn = people["S-03"], people["S-10"]

    assert enrolled["date_enrolled"] is not None and enrolled["date_withdrawn"] is None
    assert withdrawn["date_enrolled"] is None  # its only link is withdrawn
    assert withdrawn["date_withdrawn"] == "2026-11-30T00:00:00+00:00"
    statuses = {
        "pending": ["S-02", "S-04", "S-08", "S-11"],
        "invited": ["S-07", "S-09"],
        "consented": ["S-01", "S-05", "S-06", "s-03"],
        "enrolled": ["S-03"],
        "withdrawn": ["S-10"],
    }
    for status, sssids in statuses.items():
        body = client.get(f"/subject?status={status}&ordercol=sssid", headers=staff).json
        assert [row["sssid"] for row in body["data"]] == sssids, status
        assert body["total"] == len(sssids)


@pytest.mark.parametrize(
    ("search", "found"),
    [
        ("s-0", ["S-01", "S-02", "S-03", "S-04", "S-05", "S-06", "S-07", "S-08", "S-09", "s-03"]),
        ("S-1", ["S-10", "S-11"]),
        ("AL BAK", ["S-01", "S-03", "s-03"]),
        ("müller ä", ["S-11"]),  # Unicode case-folding, the same on both databases
        ("MÜLLER", ["S-11"]),
        ("100%", ["S-09"]),  # literal: % is no wildcard
        ("%", ["S-09"]),
        ("_", ["S-02"]),  # literal: _ is no wildcard
        ("1980-05", ["S-03", "S-05", "S-10", "s-03"]),
        ("1980-05-3", ["S-05"]),
        ("198", ["S-03", "S-05", "S-08", "S-09", "S-10", "s-03"]),
        ("1980-1", []),
        ("19", [f"S-{n:02d}" for n in range(2, 12)] + ["s-03"]),
        ("  ed fox  ", ["S-10"]),
        ("nobody", []),
    ],
)
def test_search_is_literal_and_case_insensitive(client, staff, people, search, found):
    query = {"search": search, "ordercol": "sssid"}
    body = client.get("/subject", query_string=query, headers=staff)

    assert [row["sssid"] for row in body.json["data"]] == found
    assert body.json["total"] == len(found)


def test_search_and_status_together_and_deep_pages_of_a_search(client, staff, people):
    query = "/subject?search=al&status=consented&ordercol=sssid"
    assert [row["sssid"] for row in client.get(query, headers=staff).json["data"]] == [
        "S-01",
        "s-03",
    ]
    last = client.get("/subject?search=s-0&ordercol=sssid&perpage=3&offset=9", headers=staff)
    assert [row["sssid"] for row in last.json["data"]] == ["s-03"]
    assert last.json["total"] == 10


def test_past_the_end_is_an_empty_page_with_the_total(client, staff, people):
    body = client.get("/subject?offset=12", headers=staff).json

    assert body == {"data": [], "total": 12}


def test_no_subjects_at_all(client, staff):
    assert client.get("/subject", headers=staff).json == {"data": [], "total": 0}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("perpage=0", "perpage must be at least 1"),
        ("perpage=101", "perpage must be at most 100"),
        ("perpage=ten", "perpage must be a whole number"),
        ("offset=-1", "offset must be at least 0"),
        ("offset=" + "9" * 20, "offset must be at most 2147483647"),
        ("ordercol=email", "ordercol must be one of sssid, name, bday, created, changed"),
        ("ordercol=status", "ordercol must be one of"),
        ("orderdir=up", "orderdir must be asc or desc"),
        ("status=active", "status must be one of pending, invited, consented, enrolled, withdrawn"),
        ("search=a%00b", "search must not contain NUL characters"),
        ("search=" + "x" * 255, "search must be at most 254 characters"),
        ("page=2", "unknown query parameter: page"),
        ("sort=name", "unknown query parameter: sort"),
    ],
)
def test_bad_parameters_are_a_400_naming_them(client, staff, query, message):
    assert message in json_error(client.get("/subject?" + query, headers=staff), 400)


def test_the_total_is_the_counter_kept_by_triggers(app, client, staff):
    create_subject(client, staff)
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text("UPDATE subject_count SET n = 41 WHERE id = 1"))

    assert client.get("/subject", headers=staff).json["total"] == 41  # no count(*) was made
    assert client.get("/subject?search=jane", headers=staff).json["total"] == 1  # counted


def test_the_counter_follows_every_insert_and_delete(app, client, staff):
    for number in range(3):
        create_subject(client, staff, sssid=f"S-{number}")
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events"))
        connection.execute(text("DELETE FROM subjects WHERE sssid = 'S-0'"))
        counted = connection.scalar(text("SELECT n FROM subject_count"))
        rows = connection.scalar(text("SELECT count(*) FROM subjects"))

    assert counted == rows == 2


def plan(statement):
    """The database's plan for *statement*, as one text."""
    dialect = db.engine.dialect
    sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    with db.engine.connect() as connection:
        if dialect.name == "sqlite":
            rows = connection.execute(text("EXPLAIN QUERY PLAN " + sql)).all()
            return "\n".join(str(row[-1]) for row in rows)
        # A tiny table is read whole and sorted; forbid that to see what an index can serve.
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            connection.execute(text(f"SET {setting} = off"))
        return "\n".join(row[0] for row in connection.execute(text("EXPLAIN " + sql)))


@pytest.mark.parametrize(
    ("column", "descending", "index"),
    [
        ("name", False, "ix_subjects_name_id"),
        ("changed", True, "ix_subjects_changed_id"),
        ("bday", False, "ix_subjects_bday_id"),
        ("sssid", False, "ix_subjects_sssid"),
    ],
)
def test_a_deep_page_skips_through_a_covering_index(app, column, descending, index):
    with app.app_context():
        query = listing.page_query([], column, descending, offset=90_000, limit=50)
        found, database = plan(query), db.engine.dialect.name

    if database == "sqlite":
        assert f"SCAN subjects USING COVERING INDEX {index}" in found, found
    else:
        scan = "Index Only Scan Backward" if descending else "Index Only Scan"
        assert f"{scan} using {index} on subjects" in found, found


def test_the_frontends_queries(client, staff):
    create_subject(client, staff)

    by_name = client.get("/subject?offset=0&perpage=51&ordercol=name&orderdir=ASC", headers=staff)
    recent = client.get("/subject?offset=0&perpage=4&ordercol=changed&orderdir=DESC", headers=staff)

    assert by_name.json["data"][0]["name"] == recent.json["data"][0]["name"] == JANE["name"]
    assert date.fromisoformat(by_name.json["data"][0]["bday"]) == date(1980, 5, 1)
