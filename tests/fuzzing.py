"""Fuzzing the JSON API with Schemathesis: the harness that tests/test_fuzz.py runs.

Schemathesis reads the description (idm/openapi.yaml with the code's values,
as GET /openapi.json serves it), so an operation described there is fuzzed
without a line here, and a link described there makes a chain of calls.

* ``FuzzServer``: a real gunicorn (conftest.LiveServer) with the settings of
  a fuzz run, and the accounts the fuzzer calls as.
* ``Identity``: who calls, an admin, a plain user or nobody. Before each
  request the account is put back as it should be, as an operator would
  with the CLI, and gets a fresh token: whatever the fuzzer did to it
  before (set its password as an admin, revoked its rights, deleted it,
  logged its tokens out), the run goes on as that identity.
* ``load_schema``: Schemathesis set up for this service: which of its
  checks hold here and why, our own (fuzz_checks.py), addresses the service
  takes.
* ``sequences``: Schemathesis' state machine along the links.
"""

import itertools
import os
from contextlib import contextmanager
from dataclasses import dataclass
from unittest import mock

import hypothesis
import log_secrets
import schemathesis
from conftest import LiveServer
from fuzz_checks import add_secrets
from fuzz_report import tallied
from hypothesis import strategies as st
from schemathesis.errors import FailureGroup
from werkzeug.security import check_password_hash

from idm import create_app, users
from idm.models import db
from idm.tokens import issue_access_token

# The service's defences against guessing would soon answer every POST /auth
# with 429: the fuzzer fails thousands of logins from 127.0.0.1, and repeats
# usernames ("", "0"). Raised for the fuzz run only, so the login path itself
# is what gets fuzzed; tests/test_lockout.py holds the limits.
SETTINGS = """
IDM_LOGIN_IP_THRESHOLD = 1_000_000_000
IDM_LOGIN_ACCOUNT_THRESHOLD = 1_000_000_000
"""


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    admin: bool


ADMIN = Account("fuzz-admin@example.org", "fuzz admin password 1", admin=True)
USER = Account("fuzz-user@example.org", "fuzz user password 1", admin=False)


class FuzzServer:
    """gunicorn on a fresh database, and an app in this process on that same database.

    The app in this process plays the operator: it restores the accounts
    the fuzzer calls as and issues their tokens, without going through the
    API under test.
    """

    def __init__(self, tmp_path, database_uri):
        self.live = LiveServer(tmp_path, settings=SETTINGS, database_uri=database_uri)
        self.url = self.live.url
        # The very settings file gunicorn reads; no settings.py of the checkout.
        with mock.patch.dict(os.environ, {"IDM_SETTINGS": str(self.live.settings)}):
            self.app = create_app({"IDM_MAIL_SENDER_THREAD": False})
        add_secrets(self.app.config)
        for account in (ADMIN, USER):
            self.restore(account)

    def restore(self, account):
        """Put *account* back as it should be; return a fresh access token of it."""
        with self.app.app_context():
            user = users.by_username(account.username)
            if user is None:
                user = users.create_user(account.username, account.password, account.admin)
            elif user.admin != account.admin or not check_password_hash(
                user.password_hash, account.password
            ):
                if user.admin and not account.admin:
                    self.restore(ADMIN)  # so that this one is not the last admin
                user = users.update_user(user, admin=account.admin, password=account.password)
            token, _ = issue_access_token(user)
            db.session.remove()
        # It travels in requests: it must not turn up in any log either.
        log_secrets.note(token)
        return token

    def stop(self):
        with self.app.app_context():
            db.engine.dispose()
        self.live.stop()


class Identity:
    """Who the fuzzer calls as: *account* on *server* (None: nobody, no token)."""

    def __init__(self, name, server, account=None, scheme="Bearer"):
        self.name, self.server, self.account, self.scheme = name, server, account, scheme

    def authorize(self, case):
        """Put this identity's credentials where Schemathesis put the caller's (CALLER_MARK).

        Requests that Schemathesis generated with credentials of its own (none,
        or a broken token, to see them refused) keep those.
        """
        headers = case.headers or {}
        if headers.get("Authorization") != CALLER_MARK:
            return False
        if self.account is None:
            del headers["Authorization"]
        else:
            headers["Authorization"] = f"{self.scheme} {self.server.restore(self.account)}"
        return True

    @contextmanager
    def authorizing(self, case):
        """``authorize`` for one call, then the mark again: the examples that
        Schemathesis made at collection are shared by the tests of every identity."""
        swapped = self.authorize(case)
        try:
            yield
        finally:
            if swapped:
                case.headers["Authorization"] = CALLER_MARK


# Schemathesis makes its addresses under .test, a special-use domain the
# service refuses (idm/validation.py), so no user would ever be created and
# nothing after a creation would be reached. These are addresses it takes,
# of any length up to the longest (254): a local part of letters (accented
# ones too), digits and "+-_", under subdomains of example.org or .com.
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789äéñß"
LOCAL_PART = st.text(LETTERS + "+-_", min_size=1, max_size=64)
SUBDOMAINS = st.lists(st.text(LETTERS, min_size=1, max_size=60), max_size=3)
DOMAIN = st.builds(
    lambda labels, base: ".".join([*labels, base]),
    SUBDOMAINS,
    st.sampled_from(["example.org", "example.com"]),
)
schemathesis.openapi.format("idn-email", st.builds("{}@{}".format, LOCAL_PART, DOMAIN))


# What Schemathesis puts in every request that should carry the caller's
# credentials. Some requests are made when the tests are collected, before
# anyone calls: Identity.authorize swaps the mark for the real thing.
CALLER_MARK = "Bearer the-caller"


def load_schema(document, examples, seed):
    """Schemathesis' view of *document*; requests carry CALLER_MARK for Identity.authorize."""
    config = schemathesis.Config.from_dict(project_config(examples, seed))
    schema = schemathesis.openapi.from_dict(document, config=config)

    @schema.hook
    def after_call(context, case, response):
        # Tokens it receives must not turn up in any log of the run either.
        log_secrets.note_response({}, response.content)

    @schema.auth(refresh_interval=None)
    class Caller:
        def get(self, case, context):
            return CALLER_MARK

        def set(self, case, mark, context):
            case.headers = case.headers or {}
            case.headers["Authorization"] = mark

    return schema


def project_config(examples, seed):
    """Schemathesis' settings: its checks as they come, less what the description cannot say."""
    return {
        "seed": seed,
        "generation": {"mode": "all", "max-examples": examples, "database": "none"},
        "checks": {
            # Invalid input refused for being too large is refused all the same.
            "negative_data_rejection": {"expected-statuses": REFUSALS},
            # Valid per schema, a request may still break a rule the description
            # gives in words only, answered 400 naming it: no NUL in any text, an
            # address email-validator takes, a password not on the common list,
            # fields only a dry run may leave out. Any other refusal still fails.
            "positive_data_acceptance": {"expected-statuses": ACCEPTANCES},
        },
        "operations": [
            # The body is optional because the credentials may come as HTTP
            # Basic instead; with neither it is a 415 (docs/api.md, POST /auth).
            {"include-name": "POST /auth", "checks": {"positive_data_acceptance": NO}},
            # PUT and DELETE on /user/me take "me" as an id (docs/api.md, Users),
            # so OPTIONS lists them there; OpenAPI cannot say so.
            {"include-path": "/user/me", "checks": {"allow_header_conformance": NO}},
            # Chains reach DELETE /user with usernames from any answer (a list,
            # another user) or fresh ones in a link's place; Schemathesis still
            # takes its 404 for "the user just created is gone". By id, the
            # check holds (DELETE /user/{user_id}).
            {"include-name": "DELETE /user", "checks": {"ensure_resource_availability": NO}},
        ],
    }


NO = {"enabled": False}
ACCEPTANCES = ["2xx", "400", "401", "403", "404", "409", "429", "5xx"]
REFUSALS = [
    "400",
    "401",
    "403",
    "404",
    "405",
    "406",
    "409",
    "413",
    "414",
    "415",
    "422",
    "429",
    "5xx",
]


def sequences(schema, identity, examples, seed):
    """A test of Schemathesis' state machine: chains of calls along the description's links.

    Each chain starts at an operation that makes something (POST /user) and
    follows the links of its answer (read, change, delete the user made);
    Schemathesis adds links it infers (an id in a list, in /user/me). New
    links in idm/openapi.yaml make new chains, with no change here.
    """
    failures, chains = [], []

    class Sequences(schema.as_state_machine()):
        def before_call(self, case):
            identity.authorize(case)

        def get_call_kwargs(self, case):
            return {"base_url": identity.server.url}

        def validate_response(self, response, case, **kwargs):
            try:
                with tallied(case, "sequences"):
                    super().validate_response(response, case, **kwargs)
            except FailureGroup as group:
                failures.append(group)
                raise

        def teardown(self):
            chains.append(1)
            super().teardown()

    def run():
        # Which chains can go on depends on what the server answered, and the
        # server keeps what earlier chains did. Hypothesis takes that for
        # "flaky" data generation and stops; Schemathesis' own runner starts
        # over then, and so does this, with the next seed, while chains are
        # left and the last start ran some. A failure is reported as such.
        for attempt in itertools.count():
            done = len(chains)
            settings = hypothesis.settings(
                Sequences.TestCase.settings, max_examples=examples - done
            )
            try:
                hypothesis.seed(seed + attempt)(Sequences).run(settings=settings)
                return
            except hypothesis.errors.Flaky:
                if failures:
                    raise failures[0] from None
                if len(chains) >= examples:
                    return
                assert len(chains) > done, f"a start ran no chain; {done} of {examples} ran"

    return run


MAX_RESTARTS = 20
