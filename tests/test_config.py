"""Where settings come from: defaults.py -> settings file -> FLASK_* variables -> test_config.

Each test builds the app in a throw-away project directory (a copy of
defaults.py, its own settings.py and instance/), so nothing lands in the repo.
"""

import re
import secrets
import shutil

import pytest
from conftest import ROOT

import idm.config
from idm import ConfigError, create_app
from idm.config import secret_key_weakness
from idm.mail import sender
from idm.models import db

DEFAULT_KEY = "insecure-development-key-change-me"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project root holding only defaults.py; IDM_SETTINGS unset."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(ROOT / "defaults.py", root / "defaults.py")
    monkeypatch.setattr(idm.config, "ROOT", str(root))
    monkeypatch.delenv("IDM_SETTINGS")
    return root


@pytest.fixture
def build(tmp_path):
    """create_app(config) with the database in tmp_path unless config names one."""
    apps = []

    def build(config=None, database=True):
        config = dict(config or {})
        if database:
            config.setdefault("SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path / 'c.sqlite'}")
        apps.append(create_app(config))
        return apps[-1]

    yield build
    for app in apps:
        sender.stop(app)
        with app.app_context():
            db.engine.dispose()


def test_the_defaults_file_is_the_base(project, build):
    app = build({"TESTING": True})

    assert app.config["IDM_PRODUCT_NAME"] == "IDM"
    assert app.config["IDM_JWT_ALGORITHM"] == "RS256"
    assert app.config["MAIL_SERVER"] is None  # development: emails go to the log


LAYERS = ["file", "env", "test_config"]


@pytest.mark.parametrize(
    "present",
    [
        (),
        ("file",),
        ("env",),
        ("test_config",),
        ("file", "env"),
        ("file", "test_config"),
        ("env", "test_config"),
        ("file", "env", "test_config"),
    ],
    ids=lambda layers: "+".join(layers) or "defaults only",
)
def test_override_order(project, build, tmp_path, monkeypatch, present):
    config = {"TESTING": True}
    if "file" in present:
        settings = tmp_path / "named.py"
        settings.write_text("IDM_PRODUCT_NAME = 'from file'\n")
        monkeypatch.setenv("IDM_SETTINGS", str(settings))
    if "env" in present:
        monkeypatch.setenv("FLASK_IDM_PRODUCT_NAME", "from env")
    if "test_config" in present:
        config["IDM_PRODUCT_NAME"] = "from test_config"

    app = build(config)

    winner = max(present, key=LAYERS.index) if present else None
    expected = {None: "IDM", "file": "from file", "env": "from env"}
    expected["test_config"] = "from test_config"
    assert app.config["IDM_PRODUCT_NAME"] == expected[winner]


def test_settings_py_in_the_project_is_read_when_no_file_is_named(project, build):
    (project / "settings.py").write_text("IDM_PRODUCT_NAME = 'from settings.py'\n")

    assert build({"TESTING": True}).config["IDM_PRODUCT_NAME"] == "from settings.py"


def test_a_named_settings_file_replaces_settings_py(project, build, tmp_path, monkeypatch):
    (project / "settings.py").write_text("IDM_PRODUCT_NAME = 'from settings.py'\n")
    named = tmp_path / "named.py"
    named.write_text("IDM_USERS_PER_PAGE = 7\n")
    monkeypatch.setenv("IDM_SETTINGS", str(named))

    app = build({"TESTING": True})

    assert app.config["IDM_USERS_PER_PAGE"] == 7
    assert app.config["IDM_PRODUCT_NAME"] == "IDM"


def test_a_named_settings_file_that_is_missing_fails(project, tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "settings.py"
    monkeypatch.setenv("IDM_SETTINGS", str(missing))

    with pytest.raises(OSError, match="nowhere"):
        create_app({"TESTING": True})


def test_environment_values_are_parsed_like_json(project, build, monkeypatch):
    monkeypatch.setenv("FLASK_IDM_ACCESS_TOKEN_LIFETIME", "60")
    monkeypatch.setenv("FLASK_IDM_INIT_REQUIRE_CODE", "true")

    app = build({"TESTING": True})

    assert app.config["IDM_ACCESS_TOKEN_LIFETIME"] == 60
    assert app.config["IDM_INIT_REQUIRE_CODE"] is True


def test_database_url_from_the_environment(project, build, tmp_path, monkeypatch):
    database = tmp_path / "from-env.sqlite"
    monkeypatch.setenv("FLASK_SQLALCHEMY_DATABASE_URI", f"sqlite:///{database}")

    app = build({"TESTING": True}, database=False)

    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{database}"
    assert database.exists()  # the schema was created there


def test_with_nothing_set_the_database_is_sqlite_under_instance(project, build):
    app = build({"TESTING": True}, database=False)

    database = project / "instance" / "idm.sqlite"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{database}"
    assert database.exists()


@pytest.mark.parametrize(
    "settings_file",
    ["", f"SECRET_KEY = {DEFAULT_KEY!r}\n", "SECRET_KEY = ''\n", "SECRET_KEY = None\n"],
    ids=["not set", "set to the default", "empty", "None"],
)
def test_production_refuses_the_default_secret_key(
    project, build, tmp_path, monkeypatch, settings_file
):
    settings = tmp_path / "prod.py"
    settings.write_text(settings_file)
    monkeypatch.setenv("IDM_SETTINGS", str(settings))

    with pytest.raises(ConfigError) as refused:
        build()

    message = str(refused.value)
    assert "\n" not in message
    assert "SECRET_KEY" in message
    assert "refusing to start" in message


def test_production_starts_with_a_secret_key_from_the_settings_file(
    project, build, tmp_path, monkeypatch
):
    settings = tmp_path / "prod.py"
    settings.write_text(
        "SECRET_KEY = 'a long random production key, 32+ chars'\n"
        "IDM_PUBLIC_URL = 'https://idm.example.org'\n"
    )
    monkeypatch.setenv("IDM_SETTINGS", str(settings))

    app = build()

    assert not app.testing and not app.debug
    assert app.test_client().get("/").status_code == 200


def test_production_starts_with_a_secret_key_from_the_environment(project, build, monkeypatch):
    monkeypatch.setenv("FLASK_SECRET_KEY", "another long random production key")
    monkeypatch.setenv("FLASK_IDM_PUBLIC_URL", "https://idm.example.org")

    assert build().config["SECRET_KEY"] == "another long random production key"


@pytest.mark.parametrize("mode", ["DEBUG", "TESTING"])
def test_development_allows_the_default_secret_key(project, build, mode):
    app = build({mode: True})

    assert app.config["SECRET_KEY"] == DEFAULT_KEY


@pytest.mark.parametrize(
    ("uri", "configured", "pre_ping"),
    [
        ("sqlite:///x.sqlite", {}, False),  # no server that could drop a connection
        ("postgresql+psycopg://u@127.0.0.1/d", {}, True),  # replace what the server closed
        ("postgresql+psycopg://u@127.0.0.1/d", {"pool_pre_ping": False}, False),  # yours wins
        ("sqlite:///x.sqlite", {"pool_pre_ping": True, "echo": True}, True),
    ],
)
def test_engine_options_ping_server_databases_only(uri, configured, pre_ping):
    config = {"SQLALCHEMY_DATABASE_URI": uri, "SQLALCHEMY_ENGINE_OPTIONS": configured}

    options = idm.config.engine_options(config)

    assert options.get("pool_pre_ping", False) is pre_ping
    assert options.pop("hide_parameters") is True  # no SQL parameters in any log line
    assert {k: v for k, v in options.items() if k != "pool_pre_ping"} == {
        k: v for k, v in configured.items() if k != "pool_pre_ping"
    }


def test_the_engine_uses_the_chosen_options(build):
    app = build({"TESTING": True})

    with app.app_context():
        assert db.engine.pool._pre_ping is False  # SQLite


ALGORITHM_CHOICES = "IDM_JWT_ALGORITHM must be one of RS256, ES256, EdDSA, HS256, HS384, HS512"


@pytest.mark.parametrize("algorithm", ["none", "hs256", "", "RS384", "PS256", "ES512", None])
def test_only_the_supported_algorithms_can_sign_tokens(make_app, algorithm):
    with pytest.raises(ConfigError, match=ALGORITHM_CHOICES):
        make_app(IDM_JWT_ALGORITHM=algorithm)


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
def test_key_pair_algorithms_need_no_secret(make_app, algorithm):
    assert make_app(IDM_JWT_ALGORITHM=algorithm).config["IDM_JWT_HMAC_SECRET"] is None


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_hmac_needs_a_secret_of_its_own(make_app, algorithm):
    with pytest.raises(ConfigError, match=f"{algorithm} signs with IDM_JWT_HMAC_SECRET"):
        make_app(IDM_JWT_ALGORITHM=algorithm)
    app = make_app(SECRET_KEY="k" + secrets.token_hex(32))
    with pytest.raises(ConfigError, match="never SECRET_KEY"):
        make_app(
            SECRET_KEY=app.config["SECRET_KEY"],
            IDM_JWT_ALGORITHM=algorithm,
            IDM_JWT_HMAC_SECRET=app.config["SECRET_KEY"],
        )
    secret = secrets.token_urlsafe(48)
    assert make_app(IDM_JWT_ALGORITHM=algorithm, IDM_JWT_HMAC_SECRET=secret)


def test_production_refuses_a_weak_hmac_secret(project, build, tmp_path, monkeypatch):
    settings = tmp_path / "prod.py"
    settings.write_text(
        f"SECRET_KEY = {secrets.token_urlsafe(48)!r}\n"
        "IDM_PUBLIC_URL = 'https://idm.example.org'\n"
        "IDM_JWT_ALGORITHM = 'HS256'\nIDM_JWT_HMAC_SECRET = 'secret'\n"
    )
    monkeypatch.setenv("IDM_SETTINGS", str(settings))

    with pytest.raises(ConfigError, match="IDM_JWT_HMAC_SECRET is a placeholder; make one with"):
        build()


@pytest.mark.parametrize(
    "setting", ["IDM_KEY_PUBLISH_AHEAD", "IDM_KEY_ROTATION_DAYS", "IDM_KEY_CACHE_SECONDS"]
)
@pytest.mark.parametrize("value", [-1, 1.5, "3600", True, None])
def test_key_schedule_settings_are_whole_numbers(make_app, setting, value):
    with pytest.raises(ConfigError, match=f"{setting} must be a whole number, 0 or more"):
        make_app(**{setting: value})


@pytest.mark.parametrize(
    ("clients", "message"),
    [
        (["rs"], "must be a dict"),
        ({"": "sha256:" + "0" * 64}, "no client id"),
        ({"a:b": "sha256:" + "0" * 64}, "no client id"),
        ({"rs": "the secret itself"}, "never the secret itself"),
        ({"rs": "sha256:" + "0" * 63}, "never the secret itself"),
        ({"rs": "SHA256:" + "0" * 64}, "never the secret itself"),
    ],
)
def test_introspection_clients_hold_digests_only(make_app, clients, message):
    with pytest.raises(ConfigError, match=message):
        make_app(IDM_INTROSPECTION_CLIENTS=clients)


EXAMPLE_KEY = re.search(
    r'^SECRET_KEY = "([^"]*)"', (ROOT / "settings.example.py").read_text(), re.M
)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (EXAMPLE_KEY.group(1), "a placeholder"),
        ("change-me-please-this-is-not-a-key-at-all", "a placeholder"),
        ("x1" * 15, "shorter than 32 characters"),
        ("a" * 64, "made of too few different characters"),
        ("0123456789" * 2 + "0", "shorter than 32 characters"),
        ("abcdefghij" * 4, "a short piece repeated"),
        ("9" * 40 + "abcdefgh", "made of too few different characters"),
    ],
)
def test_production_refuses_a_weak_secret_key(project, build, tmp_path, monkeypatch, key, reason):
    settings = tmp_path / "prod.py"
    settings.write_text(f"SECRET_KEY = {key!r}\nIDM_PUBLIC_URL = 'https://idm.example.org'\n")
    monkeypatch.setenv("IDM_SETTINGS", str(settings))

    with pytest.raises(ConfigError) as refused:
        build()

    message = str(refused.value)
    assert "\n" not in message
    assert f"SECRET_KEY is {reason};" in message
    assert "secrets.token_urlsafe(48)" in message  # what to do


@pytest.mark.parametrize(
    "make",
    [
        lambda: secrets.token_urlsafe(48),
        lambda: secrets.token_hex(32),
        lambda: secrets.token_urlsafe(24),
    ],
)
def test_random_keys_are_never_refused(make):
    for _ in range(2000):
        assert secret_key_weakness(make()) is None


def test_the_suites_own_keys_pass():
    """conftest.py, deploy_stack.py and bench/ write their keys like this."""
    assert secret_key_weakness("test-" + secrets.token_hex(32)) is None
    assert secret_key_weakness(secrets.token_hex(32)) is None
