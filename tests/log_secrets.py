"""Nothing secret in any log line: every line the test suite logs is read for its secrets.

During the run, every record of the service's loggers (``idm.*``) in the
test process is written to
tests/artifacts/run.log, and every gunicorn, supervisor and Nginx log of the
live servers is appended to it when the server stops. Meanwhile the test
clients note each secret that passes through them: passwords sent, access
tokens, link JWTs and reset keys received, session cookies set. At the end of the run
the log is searched for each of them; one found fails the run and names it.

One deliberate exception: in development, with no MAIL_SERVER, the service
writes each email's text to its log (that is how a developer gets the reset
link); those records are marked and not copied.
"""

import json
import logging
import re
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
RUN_LOG = ARTIFACTS / "run.log"
SHORTEST = 10  # shorter strings (a wrong "password") could match by chance
SECRETS = set()
RESET_KEY = re.compile(r"[?&]k=([A-Za-z0-9_-]{20,})")
COOKIE = re.compile(r"(?:^|,\s*)session=([^;,\s]+)")


ADDRESS = re.compile(r"[^@\s]+@[^@\s]+")


def note(value):
    # Some tests send an address as a password on purpose; addresses are
    # not secret, and the log names them.
    if isinstance(value, str) and len(value) >= SHORTEST and not ADDRESS.fullmatch(value):
        SECRETS.add(value)


def note_request(path, body):
    for key in RESET_KEY.findall(path):
        note(key)
    if isinstance(body, bytes | str):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        try:
            body = json.loads(text)
        except (ValueError, RecursionError):
            for name in ("password", "password2", "pass1", "pass2", "current_password", "key"):
                for match in re.findall(rf"(?:^|&){name}=([^&]+)", text):
                    note(match)
            return
    if isinstance(body, dict):
        for name in ("password", "current_password", "password2", "pass1", "pass2", "token"):
            note(body.get(name))


def note_response(headers, raw_body):
    for cookie in COOKIE.findall(headers.get("Set-Cookie", "") or ""):
        note(cookie)
    if (headers.get("Content-Type") or "").startswith("application/jwt"):
        note(raw_body.decode("ascii", "replace"))  # a study link's JWT
    try:
        body = json.loads(raw_body or b"null")
    except (ValueError, RecursionError):
        return
    if isinstance(body, dict):
        note(body.get("access_token"))


class RunLog(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        ARTIFACTS.mkdir(exist_ok=True)
        self.file = open(RUN_LOG, "w", encoding="utf-8")  # noqa: SIM115
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record):
        if getattr(record, "development_mail", False):
            return
        self.file.write(self.format(record) + "\n")
        self.file.flush()

    def append(self, path):
        path = Path(path)
        if path.is_file():
            self.file.write(f"--- {path.name}\n" + path.read_text(errors="replace") + "\n")
            self.file.flush()

    def close(self):
        self.file.close()
        super().close()


HANDLER = None


def start():
    global HANDLER
    HANDLER = RunLog()
    # The service's loggers only: the test's own SMTP server logs whole
    # emails, reset links included, and that is no leak of the service.
    logging.getLogger("idm").addHandler(HANDLER)


def append(path):
    if HANDLER is not None:
        HANDLER.append(path)


def leaks():
    """The secrets that stand in the run's log."""
    logging.getLogger("idm").removeHandler(HANDLER)
    HANDLER.close()
    return found_in(RUN_LOG.read_text(encoding="utf-8", errors="replace"))


def found_in(text):
    return sorted(secret for secret in SECRETS if secret in text)
