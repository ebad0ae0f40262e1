"""DEPLOY.md's "Signing keys" and "Rotating SECRET_KEY" commands, as written, against gunicorn.

The host's paths become this checkout's (``/srv/idm/venv/bin/flask`` is the
test's virtualenv, ``/etc/idm/settings.py`` the live server's settings),
``sudo -u idm`` is dropped (the service runs as this process's user);
everything else runs as the operator would paste it.
"""

import ast
import os
import re
import secrets
import shlex
import sys
from pathlib import Path

import pytest
from conftest import ADMIN, ROOT, LiveServer, http_json
from deploy_stack import doc_blocks, run_script, substitute
from resource_server import introspect

pytestmark = pytest.mark.slow


def host(block, settings, **more):
    """*block* of DEPLOY.md with the host's paths replaced by this checkout's."""
    replacements = {
        "sudo -u idm ": "",
        "/etc/idm/settings.py": str(settings),
        "/srv/idm/venv/bin/flask": str(Path(sys.executable).parent / "flask"),
    }
    return substitute(block, replacements | more)


def operator_env():
    return {name: value for name, value in os.environ.items() if name != "IDM_SETTINGS"}


def login(url):
    credentials = {"username": ADMIN[0], "password": ADMIN[1]}
    status, _, body = http_json(url + "/auth", "POST", credentials)
    assert status == 200, body
    return body["access_token"]


def test_signing_keys_commands(tmp_path, database_uri):
    server = LiveServer(tmp_path, database_uri=database_uri)
    try:
        server.init_admin(*ADMIN)
        token = login(server.url)
        keys_block, client_block = doc_blocks("Signing keys")

        listed_and_rotated = run_script(host(keys_block, server.settings), operator_env(), ROOT)
        client = run_script(host(client_block, server.settings), operator_env(), ROOT)
    finally:
        server.stop()

    assert re.search(r"^\S+\tRS256\tactive\t", listed_and_rotated, re.M)
    assert re.search(r"^new key \S+ \(RS256\): in the JWKS now", listed_and_rotated, re.M)
    secret = re.search(r"client secret: (\S+)", client).group(1)
    entry = re.search(r"^    ('reports-api': 'sha256:[0-9a-f]{64}'),$", client, re.M).group(1)
    clients = ast.literal_eval("{" + entry + "}")

    # The printed line, in the settings of a restarted service, opens introspection.
    (tmp_path / "again").mkdir()
    again = LiveServer(
        tmp_path / "again",
        settings=f"IDM_INTROSPECTION_CLIENTS = {clients!r}\n",
        database_uri=database_uri,
    )
    try:
        answer = introspect(again.url + "/auth/introspect", ("reports-api", secret), token)
    finally:
        again.stop()
    assert answer["active"] is True and answer["username"] == ADMIN[0]


def test_rotating_secret_key_logs_no_api_client_out(tmp_path, database_uri):
    old, new = secrets.token_urlsafe(48), secrets.token_urlsafe(48)
    (tmp_path / "before").mkdir()
    before = LiveServer(
        tmp_path / "before", settings=f"SECRET_KEY = {old!r}\n", database_uri=database_uri
    )
    try:
        before.init_admin(*ADMIN)
        token = login(before.url)
    finally:
        before.stop()
    # Step 1: the new value in the settings.
    settings = tmp_path / "new_settings.py"
    settings.write_text(before.settings.read_text() + f"SECRET_KEY = {new!r}\n")
    (block,) = doc_blocks("Rotating SECRET_KEY")

    # Step 2: the reseal, as written, with the old value.
    output = run_script(
        host(block, settings, **{"'the old value'": shlex.quote(old)}), operator_env(), ROOT
    )

    assert "resealed 1 private key(s) with the current SECRET_KEY (0 already were)" in output
    # Step 3: the restart, with the new value.
    (tmp_path / "after").mkdir()
    after = LiveServer(
        tmp_path / "after", settings=f"SECRET_KEY = {new!r}\n", database_uri=database_uri
    )
    try:
        assert http_json(after.url + "/user/me", token=token)[0] == 200  # nobody is logged out
        fresh = login(after.url)  # and the key signs again
        assert http_json(after.url + "/user/me", token=fresh)[0] == 200
    finally:
        after.stop()
