"""Input that one database accepts and the other refuses is a 4xx on both.

PostgreSQL refuses NUL bytes in text and integers beyond bigint; SQLite
refuses integers beyond 64 bits. Found by running the suite on PostgreSQL.
"""

import pytest


@pytest.mark.parametrize("method", ["get", "put", "delete"])
@pytest.mark.parametrize("user_id", ["%00", "a%00b", "x" * 100, "not-a-uuid"])
def test_malformed_user_id_is_404(client, admin_headers, method, user_id):
    body = {"admin": True} if method == "put" else None
    response = getattr(client, method)(f"/user/{user_id}", json=body, headers=admin_headers)
    assert response.status_code == 404
    assert response.json["error"]["message"] == "no such user"


@pytest.mark.parametrize("offset", ["2147483648", "9223372036854775808", "1" + "0" * 30])
def test_offset_beyond_what_a_database_stores_is_400(client, admin_headers, offset):
    response = client.get(f"/users?offset={offset}", headers=admin_headers)
    assert response.status_code == 400
    assert response.json["error"]["message"] == "offset must be at most 2147483647"


def test_largest_offset_is_an_empty_page(client, admin_headers):
    response = client.get("/users?offset=2147483647", headers=admin_headers)
    assert response.status_code == 200
    assert response.json == {"data": [], "total": 1}


def test_nul_in_search_is_400(client, admin_headers):
    response = client.get("/users?search=a%00", headers=admin_headers)
    assert response.status_code == 400
