"""DEPLOY.md "Scaling out": two gunicorn hosts, one PostgreSQL, one Nginx upstream.

Each host keeps nothing in memory that the other needs: what one host
decides (a password change, a logout, a lockout) holds on the other at once.
Requests go straight to each gunicorn, so it is certain which host answers.
"""

import pytest
from deploy_stack import ADMIN, Deployment, credentials, init_first_admin, require_tools

from defaults import IDM_LOGIN_ACCOUNT_THRESHOLD

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tools():
    require_tools()


@pytest.fixture(scope="module")
def site(tools, postgres, tmp_path_factory):
    deployment = Deployment(tmp_path_factory.mktemp("scale"), postgres, hosts=2)
    try:
        init_first_admin(deployment)
        deployment.admin_token = deployment.login(deployment.public_url, *ADMIN)
        yield deployment
    finally:
        deployment.stop()


def new_user(site, name):
    """A user of this test alone, created through Nginx; returns (id, credentials)."""
    user = (f"{name}@example.org", f"{name} password 1")
    status, _, body = site.https("/user", "POST", credentials(user), site.admin_token)
    assert status == 201, body
    return body["data"]["id"], user


def test_password_change_on_one_host_holds_on_the_other(site):
    a, b = (host.url for host in site.hosts)
    alice_id, alice = new_user(site, "alice")
    old_token = site.login(a, *alice)
    assert site.call(b + "/user/me", token=old_token)[0] == 200

    change = {"password": "alice's next password", "current_password": alice[1]}
    status, _, body = site.call(a + f"/user/{alice_id}", "PUT", change, old_token)
    assert status == 200, body

    for host in (a, b):
        assert site.call(host + "/user/me", token=old_token)[0] == 401
    assert site.call(b + "/auth", "POST", credentials(alice))[0] == 401
    new_token = site.login(b, alice[0], "alice's next password")
    assert site.call(a + "/user/me", token=new_token)[0] == 200
    # Nginx spreads requests over both; the service behaves the same through it.
    statuses = {site.https("/user/me", token=new_token)[0] for _ in range(6)}
    assert statuses == {200}
    upstreams = {
        line.split("upstream=")[1].split()[0]
        for line in site.log_text("idm.access.log").splitlines()
        if "upstream=" in line and "/user/me" in line
    }
    assert upstreams == {f"127.0.0.1:{host.port}" for host in site.hosts}


def test_logout_on_one_host_holds_on_the_other(site):
    a, b = (host.url for host in site.hosts)
    _, bob = new_user(site, "bob")
    token = site.login(a, *bob)
    status, _, _ = site.call(a + "/auth/logout", "POST", token=token)
    assert status == 204
    assert site.call(b + "/user/me", token=token)[0] == 401
    assert site.call(a + "/user/me", token=token)[0] == 401


def test_lockout_on_one_host_holds_on_the_other(site):
    """Failed logins counted in the database lock the account on every host."""
    a, b = (host.url for host in site.hosts)
    _, carol = new_user(site, "carol")
    wrong = {"username": carol[0], "password": "not the password"}
    for _ in range(IDM_LOGIN_ACCOUNT_THRESHOLD):
        assert site.call(a + "/auth", "POST", wrong)[0] == 401
    status, headers, _ = site.call(b + "/auth", "POST", credentials(carol))
    assert status == 429
    assert "Retry-After" in headers
