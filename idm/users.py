"""What can be done to users: one function per action, each one transaction.

The JSON API, the HTML pages and the ``flask`` CLI all call these, so a rule
(password policy, last admin, duplicates) is written once. Failures are
werkzeug HTTP exceptions whose description is the message for the user.
"""

import uuid

from flask import current_app
from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import Conflict, Forbidden, NotFound
from werkzeug.security import check_password_hash, generate_password_hash

from . import audit, clock, lockout, metrics, page_sessions, revocation
from .models import ResetToken, Setup, User, UserCount, admin_exists, db, new_id
from .validation import check_password, comparable_username, normalize_username, username_key

LAST_ADMIN = "cannot remove the last admin; make another user admin first"
# One message for an unknown user and a wrong password: no enumeration.
BAD_CREDENTIALS = "wrong username or password"


def hash_password(password):
    return generate_password_hash(password, current_app.config["IDM_PASSWORD_HASH_METHOD"])


def dummy_hash():
    """A hash to check against when the user is unknown, so both cases cost the same."""
    method = current_app.config["IDM_PASSWORD_HASH_METHOD"]
    cache = current_app.extensions.setdefault("idm_dummy_hashes", {})
    if method not in cache:
        cache[method] = generate_password_hash("not a real password", method)
    return cache[method]


def authenticate(username, password):
    """The user whose credentials these are, or None; same work either way.

    Raises ``lockout.Locked`` (429) before any hashing while the username or
    the caller's address is locked after too many failures.
    """
    lockout.check_login(username)
    user = by_username(username)
    if not password_proven(username, user, password, "login"):
        return None
    user.last_login = clock.now()
    audit.record("login", target=user, actor=user)
    db.session.commit()
    return user


def verify_current_password(user, password):
    """Let *user* prove their password again before changing it, or raise.

    A confirmation is a login attempt: with a stolen token, a guess here
    must cost as much as at POST /auth. So the same lockout (account and
    address, 429 before any hashing), the same counting of failures, and an
    audit row; a failure is committed before the 403.
    """
    if password is None:
        raise Forbidden("current_password is required to change your own password")
    lockout.check_login(user.username)
    if not password_proven(user.username, user, password, "password.confirm"):
        raise Forbidden("current_password is wrong")


def password_proven(username, user, password, action):
    """Whether *password* is *user*'s (None: an unknown username); counts a failure.

    The one check behind sign-in and confirmation: an unknown user costs one
    hash like a known one; a failure is counted towards the lockout, audited
    as *action* and committed at once (it must survive the 401/403 that
    follows); a success clears the account's count of failures.
    """
    stored = user.password_hash if user is not None else dummy_hash()
    if check_password_hash(stored, password) and user is not None:
        metrics.LOGINS.labels("ok").inc()
        lockout.login_succeeded(username)
        return True
    # An unknown username is not stored: people type passwords into it.
    metrics.LOGINS.labels("failed").inc()
    audit.record(action, target=user, outcome="failed")
    lockout.login_failed(username, user)
    db.session.commit()
    return False


def new_user(username, password, admin):
    """A valid, not yet added User; the id is set now, for the audit row."""
    username = normalize_username(username)
    return User(
        id=new_id(),
        username=username,
        username_key=username_key(username),
        password_hash=hash_password(check_password(password)),
        admin=bool(admin),
    )


def by_username(username):
    """The user whose username is, or looks like, *username*; None when there is none.

    By key (validation.username_key), so a look-alike finds the account it
    imitates: at most one, since no two keys are equal.
    """
    return db.session.scalar(select(User).where(User.username_key == username_key(username)))


def taken(username):
    """The 409 for a username whose key is in use; call after the rollback.

    Says whether the address itself is taken or only one that looks like
    it, without naming the other account.
    """
    if db.session.scalar(select(exists().where(User.username == username))):
        return Conflict(f"username {username} is already taken")
    return Conflict(
        f"username {username} looks like an existing username (the same letters"
        " from another script, or invisible differences); choose another"
    )


def create_user(username, password, admin=False):
    user = new_user(username, password, admin)
    db.session.add(user)
    audit.record("user.create", target=user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise taken(user.username) from None
    return user


def check_new_user(username=None, password=None):
    """Refuse what create_user would refuse of these fields; create nothing.

    A field that is None is not checked. The rules are create_user's own:
    the same checks in the same order, and for a taken username its insert,
    flushed so that the unique index decides, then rolled back. Nothing is
    hashed and nothing is audited: no user is created.
    """
    if username is not None:
        username = normalize_username(username)
    if password is not None:
        check_password(password)
    if username is None:
        return
    # Never committed, so the hash column only needs to be non-empty.
    key = username_key(username)
    db.session.add(User(id=new_id(), username=username, username_key=key, password_hash="-"))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise taken(username) from None
    db.session.rollback()


def create_first_admin(username, password):
    """Create the first admin; Forbidden once any admin exists, also under a race."""
    if admin_exists():
        raise Forbidden("setup is complete: an admin already exists")
    user = new_user(username, password, admin=True)
    # Setup has one possible row: of two racing requests, one insert fails.
    db.session.add_all([Setup(id=1), user])
    audit.record("init", target=user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if admin_exists() or db.session.get(Setup, 1) is not None:
            raise Forbidden("setup is complete: an admin already exists") from None
        raise taken(user.username) from None
    return user


def find_user(user_id):
    # Ids are UUIDs: anything else names no user. Checked before the query
    # because PostgreSQL refuses some strings outright (NUL bytes), which
    # would surface as a 500 instead of a 404.
    if not is_uuid(user_id):
        raise NotFound("no such user")
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    return user


def is_uuid(text):
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def find_by_username(username):
    user = by_username(username)
    if user is None:
        raise NotFound(f"no user {comparable_username(username)}")
    return user


def another_admin_exists(user_id):
    """SQL condition: an admin other than *user_id* exists.

    Used inside the DELETE/UPDATE statement itself, so that two admins
    removing each other at once cannot both succeed: SQLite runs the
    statement under its write lock, PostgreSQL after lock_admins().
    """
    return exists().where(User.admin, User.id != user_id)


def lock_admins():
    """Serialize changes to the set of admins (PostgreSQL; SQLite has one writer)."""
    db.session.execute(select(User.id).where(User.admin).with_for_update())


def delete_user(user):
    # Read before the rollback below expires *user*: reloading it then would
    # raise, not answer 404, when a racing request has deleted the row.
    user_id = user.id
    lock_admins()
    statement = (
        delete(User)
        .where(User.id == user_id, ~User.admin | another_admin_exists(user_id))
        .execution_options(synchronize_session=False)
    )
    if db.session.execute(statement).rowcount == 0:
        db.session.rollback()
        if db.session.get(User, user_id) is None:
            raise NotFound("no such user")
        raise Conflict(LAST_ADMIN)
    audit.record("user.delete", target=user)
    db.session.commit()


def set_admin(user, admin):
    if admin == user.admin:
        return
    lock_admins()
    statement = (
        update(User)
        .where(User.id == user.id)
        .values(admin=admin, changed=clock.now())
        .execution_options(synchronize_session=False)
    )
    if not admin:
        statement = statement.where(another_admin_exists(user.id))
    if db.session.execute(statement).rowcount == 0:
        db.session.rollback()
        raise Conflict(LAST_ADMIN)
    if not admin:
        # For good: promoting the user again must not revive an old cookie.
        page_sessions.end_all(user.id, page_sessions.ADMIN_REVOKED)
    audit.record("admin.grant" if admin else "admin.revoke", target=user)


def set_password(user, password):
    """New hash; every access token, page session and reset link of *user* ends."""
    user.password_hash = hash_password(check_password(password))
    user.changed = user.tokens_valid_after = clock.now()
    # The one path for password changes, so no reset link or session survives one.
    db.session.execute(delete(ResetToken).where(ResetToken.user_id == user.id))
    page_sessions.end_all(user.id, page_sessions.PASSWORD_CHANGED)


def update_user(user, admin=None, password=None):
    if admin is not None:
        set_admin(user, admin)
    if password is not None:
        set_password(user, password)
        audit.record(password_action(user), target=user)
    db.session.commit()
    db.session.refresh(user)
    return user


def password_action(user):
    """The audit action for a password set through the API or the CLI.

    ``password.change`` when users change their own, ``user.update`` when an
    admin or an operator (CLI) sets it: taking over an account by setting
    its password should stand out in the log.
    """
    caller = audit.current_actor()
    return "password.change" if caller is not None and caller.id == user.id else "user.update"


def sign_out_everywhere(user):
    """End every access token and page session of *user* now; audited as ``logout``.

    What ``POST /auth/logout?all=1`` does for the caller, done to another
    account by an admin (a stolen laptop, a leaving colleague). The password
    stays; the user signs in again with it.
    """
    revocation.revoke_all_tokens(user)
    audit.record("logout", target=user)
    db.session.commit()


def unlock(user):
    """Clear the failed-login count of *user*'s account (not of any address)."""
    lockout.unlock(user)
    db.session.commit()


def list_users(offset, perpage, search=None):
    """One page of users ordered by username, and the total that match."""
    query = select(User)
    if search:
        pattern = "%" + escape_like(comparable_username(search)) + "%"
        query = query.where(User.username.like(pattern, escape="\\"))
        # LIKE '%text%' can use no B-tree index: counting the matches reads
        # every username whatever is done, so it is done plainly.
        total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    else:
        total = user_count()
    page = db.session.scalars(query.order_by(User.username).offset(offset).limit(perpage))
    return list(page), total


def user_count():
    """How many users exist, read from the row the triggers keep (models.UserCount).

    Not ``count(*)``: on PostgreSQL that scans the whole table (13 ms at
    100,000 users, and growing), this is one primary-key read. The row is
    part of the schema like a table: without it this raises, as a missing
    table would, rather than answer a wrong total.
    """
    return db.session.execute(select(UserCount.n).where(UserCount.id == 1)).scalar_one()


def usernames(user_ids):
    """``{id: username}`` of those of *user_ids* that still exist, in one query."""
    rows = db.session.execute(select(User.id, User.username).where(User.id.in_(user_ids)))
    return dict(rows.all())


def escape_like(text):
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
