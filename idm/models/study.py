"""A study's tables: subjects (participants), their links to the app, and the subjects' count.

What the columns may hold and how they change is decided in idm/study/;
here only what the database itself enforces: one subject per ``sssid``, a
link belongs to an existing subject, and the indexes the lists need.
"""

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .. import clock
from . import row_count, search_index
from .base import UTCDateTime, db


class Subject(db.Model):
    """A study participant, known by the study's subject id (``sssid``).

    ``date_enrolled``, ``date_withdrawn`` and the status are not columns:
    they follow from the subject's links (idm/study/state.py), so nothing
    can set them out of step with the links.
    """

    __tablename__ = "subjects"
    __table_args__ = (
        # One subject per sssid, decided by the index also under a race.
        # INCLUDE (id) on PostgreSQL: a page ordered by sssid is read from
        # the index alone (SQLite's indexes hold the rowid anyway).
        Index("ix_subjects_sssid", "sssid", unique=True, postgresql_include=["id"]),
        # GET /subject orders by these, ``id`` breaking ties, so that a page
        # is read from the index and a deep offset skips index entries, not
        # rows (idm/study/listing.py).
        Index("ix_subjects_name_id", "name", "id"),
        Index("ix_subjects_bday_id", "bday", "id"),
        Index("ix_subjects_created_id", "created", "id"),
        Index("ix_subjects_changed_id", "changed", "id"),
        Index("ix_subjects_date_invited_id", "date_invited", "id"),
        Index("ix_subjects_date_consented_id", "date_consented", "id"),
    )

    # A small integer: the tie-breaker of every order and the links' key.
    id: Mapped[int] = mapped_column(primary_key=True)
    # Case-sensitive and never changed.
    sssid: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    # ``name`` case-folded (str.casefold), for search: SQLite's lower() and
    # PostgreSQL's in the C locale fold ASCII only. Written with the name.
    search_name: Mapped[str] = mapped_column(String(400))
    bday: Mapped[date] = mapped_column(Date)
    email: Mapped[str | None] = mapped_column(String(254))
    date_invited: Mapped[datetime | None] = mapped_column(UTCDateTime)
    date_consented: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    changed: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class SubjectCount(db.Model):
    """The number of rows in ``subjects``, in its one row (id 1), kept by triggers.

    So that ``GET /subject`` reads its exact ``total`` by primary key
    (row_count.py says why).
    """

    __tablename__ = "subject_count"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    n: Mapped[int]


row_count.attach(SubjectCount.__table__, Subject.__table__)
search_index.attach(Subject.__table__)


class Link(db.Model):
    """A one-time link of a subject to the study's app (idm/study/links.py).

    The JWT that carries it is signed again whenever asked for
    (idm/link_tokens.py): neither it nor a secret is stored. ``jti`` holds
    128 random bits, so knowing one link tells nothing about another.
    """

    __tablename__ = "links"
    __table_args__ = (Index("ix_links_subject_id_created", "subject_id", "created"),)

    jti: Mapped[str] = mapped_column(String(43), primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    # The claims as issued, so that the same token can be signed again.
    iss: Mapped[str] = mapped_column(Text)
    aud: Mapped[str] = mapped_column(Text)
    exp: Mapped[datetime] = mapped_column(UTCDateTime)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    changed: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    # The app's FHIR Patient identifier (value, system), set once by /establish.
    linked_to: Mapped[str | None] = mapped_column(String(255))
    linked_system: Mapped[str | None] = mapped_column(String(500))
    linked_on: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_on: Mapped[datetime | None] = mapped_column(UTCDateTime)
