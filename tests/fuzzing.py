"""Fuzzing the JSON API with Schemathesis: the harness that tests/test_fuzz.py runs.

Schemathesis reads the description (idm/openapi.yaml with the code's values,
as GET /openapi.json serves it), so an operation described there is fuzzed
without a line here, and a link described there makes a chain of calls.

* ``FuzzServer``: a real gunicorn (conftest.LiveServer) with the settings of
  a fuzz run, and the accounts the fuzzer calls as.
* ``Identity``: who calls, an admin, the study staff (no admin rights) or nobody. Before each
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
import re
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
from idm.introspection import secret_digest
from idm.models import db
from idm.tokens import issue_access_token

# The service's defences against guessing would soon answer every POST /auth
# with 429: the fuzzer fails thousands of logins from 127.0.0.1, and repeats
# usernames ("", "0"). Raised for the fuzz run only, so the login path itself
# is what gets fuzzed; tests/test_lockout.py holds the limits.
#
# Links are signed with a secret of the run's own, and a resource server may
# introspect tokens: the fuzzer calls every route as it runs in a study.
LINK_SECRET = "the fuzz run's link secret, long and random enough 1"
CLIENT = ("fuzz-resource-server", "the fuzz run's introspection client secret 1")
SETTINGS = f"""
IDM_LOGIN_IP_THRESHOLD = 1_000_000_000
IDM_LOGIN_ACCOUNT_THRESHOLD = 1_000_000_000
IDM_LINK_SECRET = {LINK_SECRET!r}
IDM_INTROSPECTION_CLIENTS = {{{CLIENT[0]!r}: {secret_digest(CLIENT[1])!r}}}
"""


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    admin: bool


ADMIN = Account("fuzz-admin@example.org", "fuzz admin password 1", admin=True)
STAFF = Account("fuzz-staff@example.org", "fuzz staff password 1", admin=False)


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
        add_secrets({"IDM_INTROSPECTION_CLIENT_SECRET": CLIENT[1]})
        for account in (ADMIN, STAFF):
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


@schemathesis.deserializer("application/json")
def json_or_compact_jwt(ctx, response):
    """JSON, except a link's JWT (GET /link/{jti}/jwt): text, checked against its string schema.

    Schemathesis counts application/jwt among the JSON types and reads it
    with its JSON reader, which fails: RFC 7519's compact JWT is three
    base64url parts. Its readers are found by media type in the order they
    were registered, so the JWT's can only be this one, in JSON's place.
    """
    media_type = response.headers.get("content-type", [""])[0].partition(";")[0]
    if media_type.strip().lower() == "application/jwt":
        return response.content.decode("ascii")
    return response.json()


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
        content_type = response.headers.get("content-type", [""])[0]
        log_secrets.note_response({"Content-Type": content_type}, response.content)

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
            # DELETE /user/{id}/sessions ends every session of the user; the
            # list is still there, empty (docs/api.md, sessions). Schemathesis
            # takes a 200 on the list after a DELETE on it for a use after free.
            {"include-name": "GET /user/{user_id}/sessions", "checks": {"use_after_free": NO}},
            # POST /establish answers 406 for any Patient it cannot take (the
            # contract's status), a NUL or a lone surrogate in a valid one too.
            {
                "include-name": "POST /establish",
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": [*ACCEPTANCES, "406"]}
                },
            },
        ],
    }


NO = {"enabled": False}
# 409, 410 and 412 are refusals for the state a thing is in (a link used or
# withdrawn, a subject not yet consented), not for the request.
ACCEPTANCES = ["2xx", "400", "401", "403", "404", "409", "410", "412", "429", "5xx"]
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


class StudyApp:
    """What a chain does that a description cannot say: the study's app and its frontend.

    * The app sends a link's JWT, from ``GET /link/{jti}/jwt``, as its
      credentials on ``POST /establish`` (the description's link from one to
      the other names no parameter: the JWT goes where no parameter is).
    * The frontend withdraws a link by sending it back as it read it, with
      ``withdrawn_on`` set (docs/api.md, links); the fields it sends back
      hold their current values, whatever values were generated for them.
      Single calls still send generated ones, and get their 409.
    """

    def __init__(self):
        self.jwt = None
        self.links = {}  # jti: the link as last answered

    def read(self, case, response):
        if case.operation.label == "GET /link/{jti}/jwt" and response.status_code == 200:
            self.jwt = response.text
        elif case.operation.tags == ["study"] and "/link" in case.operation.path:
            try:
                link = response.json()["data"]
            except (ValueError, KeyError, TypeError):
                return
            if isinstance(link, dict) and "_id" in link:
                self.links[link["_id"]] = link

    def authorize(self, case):
        if case.operation.label != "POST /establish" or self.jwt is None:
            return False
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {self.jwt}"
        return True

    def echo(self, case):
        if case.operation.label != "PUT /link/{jti}" or not isinstance(case.body, dict):
            return
        link = self.links.get((case.path_parameters or {}).get("jti"))
        if link is not None:
            sent_back(case.body, link)


def sent_back(body, link):
    """*body* of a withdrawal, with the link's current values in the fields it sends back."""
    body.update({name: link[name] for name in body if name in link and name != "withdrawn_on"})


def sequences(schema, identity, examples, seed):
    """A test of Schemathesis' state machine: chains of calls along the description's links.

    Each chain starts at an operation that makes something (POST /user,
    POST /subject) and follows the links of its answer (read, change, delete
    the user made; consent, a link, its JWT, the app establishing it, the
    withdrawal); Schemathesis adds links it infers (an id in a list, in
    /user/me). New links in idm/openapi.yaml make new chains, with no change
    here; what the app does besides is StudyApp's.
    """
    failures, chains = [], []

    class Sequences(schema.as_state_machine()):
        def setup(self):
            super().setup()
            self.study = StudyApp()

        def before_call(self, case):
            if not self.study.authorize(case):
                identity.authorize(case)
            self.study.echo(case)

        def get_call_kwargs(self, case):
            return {"base_url": identity.server.url}

        def validate_response(self, response, case, **kwargs):
            self.study.read(case, response)
            try:
                with tallied(case, "sequences", response.status_code):
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
                Sequences.TestCase.settings,
                max_examples=examples - done,
                stateful_step_count=CHAIN_STEPS,
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


# The refusals of text valid per schema (idm/requests.py, checked_text).
WORDS_ONLY = re.compile("must not contain NUL characters|must be valid Unicode text")


def study_chain(schema, identity, examples, seed):
    """A test of the study's whole chain, each step once, with generated data.

    Schemathesis' chains (``sequences``) wander: a consent, a link, its JWT
    and the app's call are each one step among many, so a short run seldom
    goes the whole way. This goes the whole way every time, as staff and the
    app would: a generated subject, its consent, a link, the link's JWT, the
    app establishing it with a generated FHIR Patient, the withdrawal with a
    generated date, the link read back. Every answer gets every check, and
    each step a valid request must pass is asserted to pass.
    """
    url = identity.server.url
    finished = []

    def call(case, path=None, authorization=None):
        case.path_parameters = path or {}
        case.headers = {**(case.headers or {}), "Authorization": CALLER_MARK}
        if authorization is None:
            identity.authorize(case)
        else:
            case.headers["Authorization"] = authorization
        response = case.call(base_url=url)
        with tallied(case, "sequences", response.status_code):
            case.validate_response(response)
        return response

    @hypothesis.settings(
        max_examples=examples,
        database=None,
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.seed(seed)
    @hypothesis.given(st.data())
    def chain(data):
        # Everything is drawn before the first call: Hypothesis replays its
        # draws, and what the server answers must not change what is drawn.
        def draw(operation_id, **path):
            operation = schema.find_operation_by_id(operation_id)
            return data.draw(operation.as_strategy(path_parameters=path or None), operation_id)

        made, change = draw("createSubject"), draw("changeSubject", sssid="0")
        new_link, get_jwt, establish, read, withdraw = (
            draw(operation, **path)
            for operation, path in (
                ("createLink", {"sssid": "0"}),
                ("linkToken", {"jti": "0" * 22}),
                ("establishLink", {}),
                ("readLink", {"jti": "0" * 22}),
                ("withdrawLink", {"jti": "0" * 22}),
            )
        )
        made = call(made)
        if made.status_code != 201:  # a taken sssid, a birthday in the future
            return
        subject = made.json()["data"]
        path = {"sssid": subject["sssid"]}
        if subject["date_consented"] is None:  # else it came with its consent
            consent = {"date_consented": subject["created"]}
            change.body = {**(change.body or {}), **consent}
            changed = call(change, path)
            if changed.status_code != 200:  # another generated field refused: consent alone
                change.body = consent
                changed = call(change, path)
            assert changed.status_code == 200, changed.text
        link = call(new_link, path)
        assert link.status_code == 201, link.text
        jti = {"jti": link.json()["data"]["_id"]}
        jwt = call(get_jwt, jti)
        assert jwt.status_code == 200, jwt.text
        log_secrets.note(jwt.text)
        established = call(establish, authorization=f"Bearer {jwt.text}")
        if established.status_code == 406 and WORDS_ONLY.search(established.text):
            return  # valid per schema, but a NUL or a lone surrogate in the Patient
        assert established.status_code == 204, established.text
        read = call(read, jti).json()["data"]
        sent_back(withdraw.body, read)  # as the frontend does (StudyApp.echo)
        withdrawn = call(withdraw, jti)
        assert withdrawn.status_code in (200, 400), withdrawn.text
        finished.append(withdrawn.status_code)

    def run():
        chain()
        assert 200 in finished, f"no chain got to its withdrawal: {finished}"

    return run


# A study's chain is six calls when each succeeds (subject, consent, link,
# its JWT, establish, withdraw); Schemathesis' default is six steps in all,
# where many steps are refused or go elsewhere.
CHAIN_STEPS = 20
