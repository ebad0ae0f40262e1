"""The service's log: one line per event, the request id on each, repeats folded.

Every record of the ``idm`` loggers goes through one handler on standard
error (gunicorn's log under supervisor, the journal under systemd):

* **One line per event.** ``IDM_LOG_FORMAT = "json"`` writes one JSON object
  per line (time, level, logger, request_id, message, and the traceback as
  one string); ``"text"`` (the default) a plain line, with a traceback
  below it the first time an error is seen.
* **The request id** that Nginx sets (``X-Request-ID``, also in its access
  log and gunicorn's) is on every line written during a request, so one
  request can be followed through all three logs.
* **Repeats folded.** During an outage every request fails the same way. A
  record of WARNING or above whose logger and message template were already
  written within ``IDM_LOG_REPEAT_SECONDS`` is counted instead of written;
  the next one after the interval is written with the count of those held
  back ("... [and 3141 more like this in the last 60 s]") and without a
  traceback, which the first one had. So a five-second database outage is
  a handful of lines per worker, not one block per request.

Nothing secret is ever put into a record: database errors hide their SQL
parameters (``hide_parameters``, idm/config.py), views log no request
bodies, and only development writes an email's text here (mail/delivery.py).
tests/test_logs.py holds all of this, and tests/conftest.py greps every line
the test suite logged for the passwords, tokens and keys it used.
"""

import json
import logging
import sys
import threading
import time
from datetime import UTC, datetime

from flask import has_request_context, request

HANDLER_NAME = "idm"
MAX_REQUEST_ID = 64


def one_line(error):
    """An exception as one short line fit for a log or an admin's /status.

    For a database error the driver's own first line, not SQLAlchemy's
    text around it (the statement, a link to its docs).
    """
    cause = getattr(error, "orig", None) or error
    text = f"{type(cause).__name__}: {cause}".splitlines()[0]
    return text[:300]


def request_id():
    """The X-Request-ID of the request being served, or "-" outside one."""
    if not has_request_context():
        return "-"
    value = request.headers.get("X-Request-ID", "")
    # Only what Nginx would set: no line breaks or quotes from a client.
    safe = "".join(c for c in value[:MAX_REQUEST_ID] if c.isalnum() or c in "-_.")
    return safe or "-"


class RequestId(logging.Filter):
    def filter(self, record):
        record.request_id = request_id()
        return True


class FoldRepeats(logging.Filter):
    """Write the first of identical warnings and errors per interval; count the rest."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds
        self.lock = threading.Lock()
        self.seen = {}  # (logger, level, template) -> [first written at, held back]

    def filter(self, record):
        if record.levelno < logging.WARNING or self.seconds <= 0:
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = time.monotonic()
        with self.lock:
            entry = self.seen.get(key)
            if entry is None or now - entry[0] >= self.seconds:
                held_back = entry[1] if entry else 0
                self.seen[key] = [now, 0]
            else:
                entry[1] += 1
                return False
        if entry is not None:
            record.exc_info = record.exc_text = None  # the first one had it
            if held_back:
                more = f"[and {held_back} more like this in the last {self.seconds} s]"
                record.msg = f"{record.msg} {more}"
        return True


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s rid=%(request_id)s %(message)s")


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (as logging's last resort does)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def init_app(app):
    """Give the ``idm`` loggers their one handler (the latest app's settings win)."""
    logger = logging.getLogger("idm")
    for old in [h for h in logger.handlers if h.get_name() == HANDLER_NAME]:
        logger.removeHandler(old)
    handler = StderrHandler()
    handler.set_name(HANDLER_NAME)
    handler.addFilter(RequestId())
    # A handler's filter sees the records of every idm.* logger (a logger's
    # own filters would see only its own).
    handler.addFilter(FoldRepeats(app.config["IDM_LOG_REPEAT_SECONDS"]))
    json_lines = app.config["IDM_LOG_FORMAT"] == "json"
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    logger.addHandler(handler)
    logger.setLevel(app.config["IDM_LOG_LEVEL"])
