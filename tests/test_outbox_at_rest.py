"""No working reset link in a copy of the database, queued or sent.

Copies what an attacker would take: the SQLite file with its -wal and -shm
files as they lie on disk, or a pg_dump of the PostgreSQL database, while
a reset email waits in the outbox and after it was delivered; then looks
for the reset key (and the link) in the bytes.
"""

import os
import shutil
import subprocess
from urllib.parse import urlsplit

import pytest
from conftest import USER
from flask import template_rendered
from test_reset import ask_for_link, deliver, open_link

from idm.mail import outbox
from idm.models import OutboxMessage, db


@pytest.fixture
def app_config(smtp_server):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port}


def asked_link(client, username):
    """POST /iforgot and return the link the email carries, caught as it is rendered."""
    links = []

    def note(_app, template, context, **_extra):
        if template.name == "email/reset.txt":
            links.append(context["link"])

    with template_rendered.connected_to(note):
        assert ask_for_link(client, username).status_code == 200
    [link] = links
    return link


def database_copy(request, database_uri, tmp_path):
    """The bytes an attacker gets: the SQLite files, or a pg_dump."""
    if database_uri.startswith("sqlite"):
        path = database_uri.removeprefix("sqlite:///")
        copied = b""
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                target = tmp_path / ("copy" + suffix)
                shutil.copyfile(path + suffix, target)
                copied += target.read_bytes()
        assert copied, "no database file found to copy"
        return copied
    cluster = request.getfixturevalue("postgres")
    dump = subprocess.run(
        [os.path.join(cluster.bindir, "pg_dump"), "--dbname", database_uri.replace("+psycopg", "")],
        capture_output=True,
        check=True,
    )
    assert b"CREATE TABLE public.outbox" in dump.stdout
    return dump.stdout


def assert_no_key(copy, link):
    key = urlsplit(link).query.removeprefix("k=")
    assert len(key) >= 40
    assert key.encode() not in copy
    assert link.encode() not in copy
    assert b"/reset?k=" not in copy


def test_a_queued_reset_email_is_unreadable_in_a_copy(
    request, app, client, user, database_uri, tmp_path
):
    link = asked_link(client, USER[0])
    with app.app_context():
        assert db.session.query(OutboxMessage).filter_by(sent_at=None).count() == 1

    assert_no_key(database_copy(request, database_uri, tmp_path), link)
    assert open_link(client, link).status_code == 200  # the link itself works


def test_a_sent_reset_email_leaves_nothing_in_a_copy(
    request, app, client, user, database_uri, tmp_path, smtp_server
):
    link = asked_link(client, USER[0])
    assert deliver(app) == (1, 0)
    assert smtp_server.messages  # it went out

    assert_no_key(database_copy(request, database_uri, tmp_path), link)
    with app.app_context():
        [message] = db.session.query(OutboxMessage).all()
        assert (message.text_body, message.html_body) == ("", "")  # wiped


def test_the_bodies_open_only_with_this_secret_key(app, client, user, make_app, app_config):
    ask_for_link(client, USER[0])
    rotated = make_app(**app_config, SECRET_KEY="another-" + "k" * 40)
    with rotated.app_context():
        [message] = db.session.query(OutboxMessage).all()
        with pytest.raises(outbox.crypto.Unreadable):
            outbox.letter_of(message)


def test_mail_sealed_under_an_old_secret_key_is_dropped_with_a_log_line(
    app, client, user, make_app, app_config, smtp_server, caplog
):
    ask_for_link(client, USER[0])
    rotated = make_app(**app_config, SECRET_KEY="rotated-" + "z9" * 20)

    assert deliver(rotated) == (0, 0)

    assert smtp_server.messages == []
    assert "sealed under an earlier SECRET_KEY" in caplog.text
    with rotated.app_context():
        assert db.session.query(OutboxMessage).count() == 0


def test_sqlite_overwrites_what_it_frees(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            return
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
