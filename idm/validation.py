"""Rules for usernames and passwords, shared by the JSON API, the pages and the CLI.

Each check returns the normalized value or raises ``BadRequest`` whose
description says what is wrong, in words fit for an end user.
"""

import re
from functools import cache
from importlib import resources

from flask import current_app
from werkzeug.exceptions import BadRequest

# Deliberately simple: one "@", no spaces or control characters, a dot in the
# domain. Deliverability is proven by the reset email, not by a regex.
EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+")
MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit


# The words of every form that asks for a new password twice.
PASSWORDS_DIFFER = "the two passwords do not match"


def username_key(value):
    """The form in which a username is stored, looked up and counted.

    Never raises: a login or a reset request with a malformed username is
    looked up (and finds nothing) and counted like any other.
    """
    return value.strip().lower()


def normalize_username(value):
    """A new username: an email address, in the form ``username_key`` gives."""
    username = username_key(value)
    if not username:
        raise BadRequest("username is required")
    if len(username) > MAX_EMAIL_LENGTH:
        raise BadRequest(f"username must be at most {MAX_EMAIL_LENGTH} characters")
    if not EMAIL.fullmatch(username):
        raise BadRequest("username must be an email address, like name@example.org")
    return username


def check_password(password):
    """NIST SP 800-63B: a minimum length, a maximum, no common passwords."""
    config = current_app.config
    shortest = config["IDM_PASSWORD_MIN_LENGTH"]
    longest = config["IDM_PASSWORD_MAX_LENGTH"]
    if "\x00" in password:
        raise BadRequest("password must not contain NUL characters")
    if len(password) < shortest:
        raise BadRequest(f"password must be at least {shortest} characters")
    if len(password) > longest:
        raise BadRequest(f"password must be at most {longest} characters")
    if password.lower() in common_passwords():
        raise BadRequest("password is too common; choose another")
    return password


def check_repeated(password, repeated):
    """The second typing of a new password must equal the first."""
    if password != repeated:
        raise BadRequest(PASSWORDS_DIFFER)


def password_rules():
    """The policy in one sentence, for the forms."""
    config = current_app.config
    return (
        f"{config['IDM_PASSWORD_MIN_LENGTH']} to {config['IDM_PASSWORD_MAX_LENGTH']}"
        " characters, any you like; very common passwords are refused."
    )


@cache
def common_passwords():
    text = resources.files(__package__).joinpath("common-passwords.txt").read_text()
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())
