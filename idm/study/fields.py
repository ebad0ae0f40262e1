"""The values a subject or link may hold: each read, checked and normalized once.

Shared by the JSON API and the CSV import, so a rule and its message read
the same everywhere. Each function takes the field's name (for the message)
and the raw value, and returns the stored form or raises ``BadRequest``.
"""

import re
from datetime import UTC, date, datetime, time, timedelta

from email_validator import EmailNotValidError, validate_email
from werkzeug.exceptions import BadRequest

from .. import clock
from ..requests import checked_text

SSSID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_NAME = 200
MAX_EMAIL = 254
EARLIEST_BDAY = date(1900, 1, 1)
# A date, or a date and time with an offset ("Z" too); seconds and fractions optional.
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})", re.ASCII
)


def string(name, value):
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    return checked_text(name, value)


def sssid(value, name="sssid"):
    value = string(name, value)
    if not SSSID.fullmatch(value):
        raise BadRequest(
            f"{name} must be 1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit"
        )
    return value


def is_sssid(value):
    return bool(SSSID.fullmatch(value))


def name(value):
    value = string("name", value).strip()
    if not value:
        raise BadRequest("name must not be empty")
    if len(value) > MAX_NAME:
        raise BadRequest(f"name must be at most {MAX_NAME} characters")
    return value


def bday(value):
    """A birthday: YYYY-MM-DD, from 1900-01-01 to today (anywhere on earth)."""
    value = string("bday", value).strip()
    if not DATE.fullmatch(value):
        raise BadRequest("bday must be a date written YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"bday {value} is not a date of the calendar") from None
    # Today where it is latest (UTC+14), so nobody born today is refused.
    today = (clock.now() + timedelta(hours=14)).date()
    if not EARLIEST_BDAY <= day <= today:
        raise BadRequest("bday must be between 1900-01-01 and today")
    return day


def email(value):
    """An email address, or None for null and for "" (what an empty form field sends)."""
    if value is None:
        return None
    value = string("email", value).strip()
    if not value:
        return None
    if len(value) > MAX_EMAIL:
        raise BadRequest(f"email must be at most {MAX_EMAIL} characters")
    try:
        return validate_email(
            value, check_deliverability=False, allow_display_name=False
        ).normalized
    except EmailNotValidError as error:
        raise BadRequest(f"email must be an email address: {error}") from None


def timestamp(name, value):
    """An aware UTC datetime, to the second, from ISO 8601 with an offset or a bare date.

    A bare date means midnight UTC. A time without an offset is refused:
    nobody could tell which moment it names. Fractions of a second are
    dropped, so that a value sent back as the service answered it (to the
    second) is the same value.
    """
    value = string(name, value).strip()
    if DATE.fullmatch(value):
        try:
            moment = datetime.combine(date.fromisoformat(value), time(), UTC)
        except ValueError:
            raise BadRequest(f"{name} {value} is not a date of the calendar") from None
    elif not TIMESTAMP.fullmatch(value):
        raise BadRequest(
            f"{name} must be a timestamp with an offset, like 2026-11-24T17:40:00+01:00,"
            " or a date, like 2026-11-24"
        )
    else:
        try:
            moment = datetime.fromisoformat(value)
            moment = moment.astimezone(UTC)
        except (ValueError, OverflowError):
            raise BadRequest(f"{name} {value} is not a moment of the calendar") from None
    # The same years for a bare date as for a timestamp.
    if moment.year < 1900 or moment.year > 9998:
        raise BadRequest(f"{name} must be between the years 1900 and 9998")
    return moment.replace(microsecond=0)


def bday_range(text):
    """The dates whose YYYY-MM-DD starts with *text*, as (first, last); None if none can.

    So that "the start of bday" is searched as a range of the bday index,
    the same on every database: "198" is 1980-01-01..1989-12-31, "1980-1"
    is 1980-10-01..1980-12-31, "1980-02-3" is nothing.
    """
    if not re.fullmatch(r"\d{1,4}|\d{4}-(\d{1,2}|\d{2}-\d{0,2})?", text, re.ASCII):
        return None
    year, _, rest = text.partition("-")
    first_year, last_year = int(year.ljust(4, "0")) or 1, int(year.ljust(4, "9"))
    if last_year < 1:  # "0000": no such year
        return None
    if len(year) < 4 or not rest:
        return date(first_year, 1, 1), date(last_year, 12, 31)
    month, _, day = rest.partition("-")
    months = [m for m in range(1, 13) if f"{m:02d}".startswith(month)]
    if not months:
        return None
    if len(month) < 2 or not day:
        return date(first_year, months[0], 1), month_end(first_year, months[-1])
    last = month_end(first_year, months[0]).day
    days = [d for d in range(1, last + 1) if f"{d:02d}".startswith(day)]
    if not days:
        return None
    return date(first_year, months[0], days[0]), date(first_year, months[0], days[-1])


def month_end(year, month):
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return following - timedelta(days=1)
