"""Who is signed in to the admin pages: a Flask session cookie, checked per request.

The cookie is signed with SECRET_KEY but readable by whoever holds it, so it
carries only the admin's id, the sign-in time and a keyed stamp of the
account's credentials. On every admin request the account is read from the
database and the session ends when

* the account was deleted or is no longer an admin,
* its password changed or its tokens were revoked (the stamp differs), or
* PERMANENT_SESSION_LIFETIME has passed since sign-in (an absolute bound:
  clicking around does not extend it).
"""

import functools
import hashlib
import hmac

from flask import current_app, flash, g, has_request_context, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import Forbidden

from . import clock, users
from .auth import ADMIN_REQUIRED
from .models import User, db


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, marked Secure whenever the browser came
    over HTTPS (directly, or through Nginx as ProxyFix reports it), so the
    cookie cannot leak over plain HTTP even if SESSION_COOKIE_SECURE was
    left False."""

    def get_cookie_secure(self, app):
        over_https = has_request_context() and request.is_secure
        return super().get_cookie_secure(app) or over_https

    def open_session(self, app, request):
        # Only admin pages send the cookie; the JSON API, called on every
        # request, never does. Without a cookie there is nothing to verify,
        # so skip building the signing serializer (3 % of a GET /user/me).
        # Without SECRET_KEY Flask's own answer (no session at all) stands.
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def credentials_stamp(user):
    """Changes whenever the password or the token cut-off of *user* changes.

    Keyed with SECRET_KEY because the cookie is readable: the stamp must tell
    its holder nothing about the password hash.
    """
    cutoff = user.tokens_valid_after.isoformat() if user.tokens_valid_after else ""
    material = "\x00".join(["idm-admin-session", user.id, user.password_hash, cutoff])
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, material.encode(), hashlib.sha256).hexdigest()[:32]


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
    if not user.admin:
        raise Forbidden(ADMIN_REQUIRED)
    start_session(user)
    return user


def start_session(user):
    # A fresh session: nothing from before sign-in (a planted value) survives.
    session.clear()
    session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME, not with the browser
    session["admin_id"] = user.id
    session["admin_stamp"] = credentials_stamp(user)
    session["admin_since"] = clock.now().timestamp()


def end_session():
    session.clear()


def session_problem(user):
    """Why the current session no longer holds for *user*, or None when it does."""
    if user is None:
        return "your account was deleted"
    if not user.admin:
        return "you are no longer an admin"
    if not hmac.compare_digest(session.get("admin_stamp", ""), credentials_stamp(user)):
        return "your password was changed"
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    if clock.now().timestamp() - session.get("admin_since", 0) > lifetime:
        return "your session expired"
    return None


def current_admin():
    """The signed-in admin, checked against the database; None if there is none.

    Ends a session that no longer holds and flashes why.
    """
    admin_id = session.get("admin_id")
    if not isinstance(admin_id, str):
        return None
    user = db.session.get(User, admin_id)
    problem = session_problem(user)
    if problem is not None:
        end_session()
        flash(f"Signed out: {problem}. Sign in again.", "error")
        return None
    return user


def admin_session_required(view):
    """Pages for signed-in admins; everyone else goes to the sign-in page."""

    @functools.wraps(view)
    def wrapped(**kwargs):
        admin = current_admin()
        if admin is None:
            return redirect(url_for("admin.login"))
        # g.user is who acts, as for the JSON API (audit.record reads it).
        g.user = g.admin = admin
        return view(**kwargs)

    return wrapped
