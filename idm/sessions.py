"""Who is signed in to the pages: the browser's cookie -> a session row -> ``g.user``.

Flask's session cookie (signed with SECRET_KEY) carries the CSRF token,
flashed messages and, once signed in, the random secret of a session kept
in the database (idm/page_sessions.py says why and when it ends). Every
page view that needs a signed-in user reads that row, so signing out,
a password change, a demotion or a deletion holds on every worker and host
at the next click.

Every user may sign in; what they may open is decided per page view from
the account's row: ``session_required`` for anyone signed in,
``admin_session_required`` for admins (a 403 page for everyone else, who
is signed in but may not).
"""

import functools

from flask import flash, g, has_request_context, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import Forbidden

from . import page_sessions, users
from .auth import ADMIN_REQUIRED

# The key in Flask's session that holds the session row's secret.
SECRET = "session_secret"
# The key that holds the page a signed-out browser asked for, to return to it.
WANTED = "wanted_page"
MAX_WANTED = 1000


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, marked Secure whenever the browser came
    over HTTPS (directly, or through Nginx as ProxyFix reports it), so the
    cookie cannot leak over plain HTTP even if SESSION_COOKIE_SECURE was
    left False."""

    def get_cookie_secure(self, app):
        over_https = has_request_context() and request.is_secure
        return super().get_cookie_secure(app) or over_https

    def open_session(self, app, request):
        # Only pages send the cookie; the JSON API, called on every
        # request, never does. Without a cookie there is nothing to verify,
        # so skip building the signing serializer (3 % of a GET /user/me).
        # Without SECRET_KEY Flask's own answer (no session at all) stands.
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def sign_in(username, password):
    """Check the credentials as POST /auth does and start a session, or raise 403.

    users.authenticate is the one login check, so whatever brute-force
    protection applies to POST /auth applies here too.
    """
    if "\x00" in username + password:
        raise Forbidden(users.BAD_CREDENTIALS)
    user = users.authenticate(username, password)
    if user is None:
        raise Forbidden(users.BAD_CREDENTIALS)
    start_session(user)
    return user


def start_session(user):
    """A new session for *user* in this browser; whatever was in the cookie goes."""
    secret = page_sessions.start(user)
    # A fresh cookie: nothing from before sign-in (a planted value) survives.
    session.clear()
    session.permanent = True  # the cookie expires with PERMANENT_SESSION_LIFETIME
    session[SECRET] = secret


def end_session():
    """Sign this browser out: its session row goes, so every copy of the cookie dies."""
    secret = session.get(SECRET)
    if isinstance(secret, str):
        page_sessions.end(secret)
    session.clear()


def current_user():
    """The signed-in user of this browser, or None; says why a session ended.

    A session that ended (signed out elsewhere, expired, idle, or ended by a
    password change, demotion, deletion or an admin) is forgotten by the
    cookie too, with a flashed message.
    """
    secret = session.get(SECRET)
    if not isinstance(secret, str):
        return None
    user, problem = page_sessions.find(secret)
    if user is None:
        session.clear()
        flash(f"Signed out: {problem}. Sign in again.", "error")
    return user


def session_required(view):
    """Pages for anyone signed in; a browser without a session goes to the sign-in page,
    which brings it back here afterwards (``wanted_page``)."""

    @functools.wraps(view)
    def wrapped(**kwargs):
        user = current_user()
        if user is None:
            wanted = request.full_path.rstrip("?")
            # A page to return to, not a form's target; and never so long
            # that the cookie (4 kB at most) would be refused.
            if request.method == "GET" and len(wanted) <= MAX_WANTED:
                session[WANTED] = wanted
            return redirect(url_for("account.login"))
        # g.user is who acts, as for the JSON API (audit.record reads it).
        g.user = user
        return view(**kwargs)

    return wrapped


def admin_session_required(view):
    """Pages for admins. Read from the account's row at each view, so rights
    granted or revoked hold at the next click; anyone else signed in gets a
    403 page (a redirect to sign-in would loop: they are signed in)."""

    @session_required
    @functools.wraps(view)
    def wrapped(**kwargs):
        if not g.user.admin:
            raise Forbidden(ADMIN_REQUIRED)
        return view(**kwargs)

    return wrapped


def wanted_page():
    """The path a signed-out browser asked for before signing in, or None.

    Only a path of this site, recorded by ``session_required`` from a page
    route it served, so it cannot send the browser to another site; checked
    again all the same (``//host`` and ``/\\host`` are other sites to a browser).
    """
    path = session.get(WANTED)
    if isinstance(path, str) and path.startswith("/") and path[1:2] not in ("/", "\\"):
        return request.script_root + path
    return None
