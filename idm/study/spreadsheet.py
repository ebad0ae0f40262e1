"""Subjects from and to CSV files, for study staff who start from a spreadsheet.

Import: every row is checked by the rules of ``POST /subject``
(subjects.checked_fields), and the file goes in whole or not at all: one
transaction, and the first bad row refuses the file with its line number
and the reason. Rows are inserted as multi-row statements, so 100,000
subjects take seconds and PostgreSQL's count trigger runs once per
statement (models/row_count.py). Each subject gets its "create" event.

Export: every subject with its derived dates, ordered by sssid.
"""

import csv

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest, Conflict

from .. import audit, clock
from ..models import AuditEvent, Subject, db
from . import subjects

REQUIRED = ("sssid", "name", "bday")
COLUMNS = (*REQUIRED, "email", "date_invited", "date_consented")
EXPORTED = (*COLUMNS, "date_enrolled", "date_withdrawn", "created", "changed")
# Rows per INSERT: bounded memory, few round trips, well below SQLite's
# limit of bound parameters per statement.
BATCH = 1_000
# A cell starting with one of these is a formula to a spreadsheet program
# (OWASP "CSV injection"): exported with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Refused(BadRequest):
    """The file cannot be imported; the message names the line and the reason."""


def read_rows(lines):
    """The checked fields of every row of a CSV text stream, or Refused."""
    reader = csv.reader(lines, strict=True)  # a stray quote is an error, not data
    try:
        header = [name.strip() for name in next(reader, [])]
        columns = checked_header(header)
        found, first_line = [], {}
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank lines, as spreadsheets leave at the end
            fields = checked_row(reader.line_num, columns, row)
            if fields["sssid"] in first_line:
                raise Refused(
                    f"line {reader.line_num}: sssid {fields['sssid']} is also on line"
                    f" {first_line[fields['sssid']]}"
                )
            first_line[fields["sssid"]] = reader.line_num
            found.append((reader.line_num, fields))
    except csv.Error as error:
        raise Refused(f"line {reader.line_num}: not CSV: {error}") from None
    except UnicodeDecodeError:
        raise Refused(f"line {reader.line_num + 1}: the file is not UTF-8 text") from None
    return found


def checked_header(header):
    if not header:
        raise Refused("line 1: the file is empty; the first line must name the columns")
    for name in header:
        if name in subjects.DERIVED:
            raise Refused(f"line 1: column {name} is derived by the service and cannot be imported")
        if name not in COLUMNS:
            raise Refused(f"line 1: unknown column {name!r}; the columns are {', '.join(COLUMNS)}")
        if header.count(name) > 1:
            raise Refused(f"line 1: column {name} appears twice")
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise Refused(f"line 1: column {missing[0]} is missing")
    return header


def checked_row(line, columns, row):
    if len(row) != len(columns):
        raise Refused(f"line {line}: {len(row)} values where the header names {len(columns)}")
    data = {name: value or None for name, value in zip(columns, row, strict=True)}
    try:
        return subjects.checked_fields(data, required=REQUIRED)
    except BadRequest as error:
        raise Refused(f"line {line}: {error.description}") from None


def import_subjects(rows):
    """Insert the checked rows of read_rows in one transaction; returns how many."""
    taken = existing_sssids([fields["sssid"] for _, fields in rows])
    for line, fields in rows:
        if fields["sssid"] in taken:
            raise Refused(f"line {line}: sssid {fields['sssid']} already exists")
    now = clock.now()
    new = [subjects.new_subject(fields) for _, fields in rows]
    columns = ("sssid", "name", "search_name", "bday", "email", "date_invited", "date_consented")
    values = [{name: getattr(subject, name) for name in columns} for subject in new]
    for row in values:
        row["created"] = row["changed"] = now
    events = [
        audit.event_values(action, subject=subject.sssid, detail=detail)
        for subject in new
        for action, detail in subjects.creation_events(subject)
    ]
    try:
        for start in range(0, len(values), BATCH):
            # RETURNING makes SQLAlchemy send one multi-row INSERT per batch.
            statement = insert(Subject.__table__).returning(Subject.id)
            db.session.execute(statement, values[start : start + BATCH]).all()
        for start in range(0, len(events), BATCH):
            statement = insert(AuditEvent.__table__).returning(AuditEvent.id)
            db.session.execute(statement, events[start : start + BATCH]).all()
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("an sssid of the file was created meanwhile; nothing was imported") from None
    return len(values)


def existing_sssids(sssids):
    taken = set()
    for start in range(0, len(sssids), BATCH):
        chunk = sssids[start : start + BATCH]
        taken.update(db.session.scalars(select(Subject.sssid).where(Subject.sssid.in_(chunk))))
    return taken


def export_subjects(out):
    """Write every subject as CSV to the text stream *out*, ordered by sssid."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORTED)
    query = select(*subjects.VIEW).order_by(Subject.sssid)
    for row in db.session.execute(query.execution_options(yield_per=BATCH)):
        data = subjects.SubjectView(*row).to_json()
        writer.writerow([cell(data[name]) for name in EXPORTED])


def cell(value):
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
