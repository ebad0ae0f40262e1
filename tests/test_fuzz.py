"""The JSON API fuzzed with Schemathesis against its description (tests/fuzzing.py).

Every operation of the description, called by an admin, the study staff (a
user without admin rights) and nobody, on SQLite and on PostgreSQL, with
valid and invalid input; then chains of calls along the description's links. `make test` runs a few
examples of each (conftest.py: --fuzz-examples, --fuzz-seed); `make fuzz`
runs many, and the table at the end of either says what was called.
"""

import pytest
from conftest import FUZZ
from fuzzing import (
    ADMIN,
    STAFF,
    FuzzServer,
    Identity,
    load_schema,
    sequences,
    study_chain,
    tallied,
)
from openapi_check import description

pytestmark = pytest.mark.slow

schema = load_schema(description(), FUZZ["examples"], FUZZ["seed"])

DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
CALLERS = {"admin": (ADMIN, "Bearer"), "staff": (STAFF, "JWT"), "anonymous": (None, None)}


@pytest.fixture(scope="module")
def servers(request, tmp_path_factory):
    """One gunicorn per database for the whole module: the fuzzer's doings pile up in it."""
    made, dropped = {}, []

    def server(database):
        if database not in made:
            tmp_path = tmp_path_factory.mktemp(f"fuzz-{database}")
            uri = f"sqlite:///{tmp_path / 'fuzz.sqlite'}"
            if database == "postgresql":
                cluster = request.getfixturevalue("postgres")
                name = cluster.create_database()
                uri = cluster.uri(name)
                dropped.append(lambda: cluster.drop_database(name))
            made[database] = FuzzServer(tmp_path, uri)
        return made[database]

    yield server
    for running in made.values():
        running.stop()
    for drop in dropped:
        drop()


# One parameter for both, so that pytest runs each database's tests together.
@pytest.fixture(
    scope="module",
    params=[
        pytest.param((database, caller), id=f"{caller}-{database}", marks=marks)
        for database, marks in (("sqlite", ()), ("postgresql", pytest.mark.postgresql))
        for caller in CALLERS
    ],
)
def identity(request, servers):
    database, caller = request.param
    account, scheme = CALLERS[caller]
    return Identity(caller, servers(database), account, scheme)


@schema.parametrize()
def test_every_operation(case, identity):
    with identity.authorizing(case), tallied(case, identity.name):
        case.call_and_validate(base_url=identity.server.url)


@pytest.mark.parametrize("database", DATABASES)
def test_sequences(servers, database):
    admin = Identity("admin", servers(database), ADMIN)
    sequences(schema, admin, FUZZ["examples"], FUZZ["seed"])()


@pytest.mark.parametrize("database", DATABASES)
def test_study_chain(servers, database):
    staff = Identity("staff", servers(database), STAFF, "JWT")
    study_chain(schema, staff, FUZZ["examples"], FUZZ["seed"])()
