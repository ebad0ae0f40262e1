"""The README walkthrough through the test client: /init -> /auth -> POST /user -> /user/me."""

from conftest import csrf_token, login


def test_walkthrough(client):
    page = client.get("/init")
    assert page.status_code == 200
    assert b'name="password2"' in page.data

    form = {"csrf_token": csrf_token(page.text), "username": " Admin@Example.ORG "}
    form.update(password="a long admin password", password2="a long admin password")
    created = client.post("/init", data=form)
    assert created.status_code == 201
    assert b"setup is complete" in created.data or b"ready" in created.data

    headers = login(client, "admin@example.org", "a long admin password")
    response = client.post(
        "/user",
        json={"username": "alice@example.org", "password": "alice's password"},
        headers=headers,
    )
    assert response.status_code == 201
    assert response.headers["Location"] == f"/user/{response.json['data']['id']}"

    alice = login(client, "alice@example.org", "alice's password")
    me = client.get("/user/me", headers=alice).json["data"]
    assert me["username"] == "alice@example.org"
    assert me["admin"] is False
    assert set(me) == {"id", "username", "admin", "created", "changed", "last_login"}
