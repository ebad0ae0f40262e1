"""Settings: defaults.py, then settings.py (or $IDM_SETTINGS), then FLASK_* variables.

Also the checks that refuse an unsafe configuration at start-up, and the one
answer to "is this development?".
"""

import logging
import os
import re

from flask import Config

log = logging.getLogger(__name__)

# The project root holds defaults.py, settings.py, templates/, static/ and migrations/.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the message says why."""


def load_config(app, test_config):
    app.config.from_pyfile(os.path.join(ROOT, "defaults.py"))
    settings = os.environ.get("IDM_SETTINGS", os.path.join(ROOT, "settings.py"))
    # A named file must exist; the implicit settings.py is optional.
    app.config.from_pyfile(settings, silent="IDM_SETTINGS" not in os.environ)
    # FLASK_SECRET_KEY, FLASK_SQLALCHEMY_DATABASE_URI, FLASK_MAIL_PASSWORD, …
    app.config.from_prefixed_env()
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        os.makedirs(app.instance_path, exist_ok=True)
        path = os.path.join(app.instance_path, "idm.sqlite")
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + path
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)


def engine_options(config):
    """The engine options for this database: the one place that decides per backend.

    A server database can close a pooled connection (restart, idle timeout,
    failover); pool_pre_ping tests each connection with a round trip when it
    is checked out, so the request gets a fresh one instead of an error. That
    round trip is worth it there. A SQLite file has no server that could
    drop the connection, so the ping would be pure cost on every request.
    """
    options = dict(config["SQLALCHEMY_ENGINE_OPTIONS"] or {})
    # A database error names its SQL; its parameters (password hashes, token
    # ids, addresses) must never reach a log line.
    options.setdefault("hide_parameters", True)
    if not config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        options.setdefault("pool_pre_ping", True)
    return options


def is_development(app):
    """Debug or tests: the only modes that may run with the public default secret."""
    return app.debug or app.testing


def default_setting(name):
    defaults = Config(ROOT)
    defaults.from_pyfile("defaults.py")
    return defaults[name]


SECRET_KEY_RECIPE = 'python3 -c "import secrets; print(secrets.token_urlsafe(48))"'
SHORTEST_SECRET_KEY = 32
# Values that people paste from examples and tutorials, lower-cased.
PLACEHOLDERS = {"replace-me", "change-me", "changeme", "secret", "secret-key", "your-secret-key"}


def secret_key_weakness(key):
    """Why *key* must not sign anything outside development, or None when it may.

    A simple test, meant to catch what people actually deploy by mistake,
    never a random key: the built-in default and the placeholder of
    settings.example.py; fewer than 32 characters (``token_urlsafe(48)``
    gives 64, ``token_hex(32)`` 64); fewer than 10 different characters
    ("aaaa…", "0000…"; a random hex key of 32+ characters has about 16);
    one short piece repeated ("abcabcabc…"). Anything that passes may still
    be guessable, which is why the error names the recipe.
    """
    if not key:
        return "not set"
    if key == default_setting("SECRET_KEY"):
        return "the public default"
    if key.lower().strip() in PLACEHOLDERS or key.lower().startswith(("replace-me", "change-me")):
        return "a placeholder"
    if len(key) < SHORTEST_SECRET_KEY:
        return f"shorter than {SHORTEST_SECRET_KEY} characters"
    if len(set(key)) < 10:
        return "made of too few different characters"
    if any(
        key == (key[:size] * (len(key) // size + 1))[: len(key)]
        for size in range(1, min(len(key) // 2, 32) + 1)
    ):
        return "a short piece repeated"
    return None


def check_config(app):
    from .link_tokens import setting_problems

    public_url = app.config["IDM_PUBLIC_URL"]
    if public_url and not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", public_url):
        raise ConfigError(
            f"IDM_PUBLIC_URL must look like https://idm.example.org[/prefix], not {public_url!r}"
        )
    log_format = app.config["IDM_LOG_FORMAT"]
    if log_format not in ("text", "json"):
        raise ConfigError(f"IDM_LOG_FORMAT must be text or json, not {log_format!r}")
    check_token_settings(app)
    fatal, warnings = setting_problems(app.config, is_development(app))
    if fatal:
        raise ConfigError("refusing to start: " + fatal[0])
    for warning in warnings:
        log.warning("%s", warning)
    if is_development(app):
        return
    weakness = secret_key_weakness(app.config["SECRET_KEY"])
    if weakness:
        raise ConfigError(
            f"refusing to start: SECRET_KEY is {weakness}; set a new one in settings.py"
            f" (or FLASK_SECRET_KEY), made with: {SECRET_KEY_RECIPE}"
        )
    # Reset links must not take their host from a Host header nobody vouches for.
    if not (app.config["IDM_PUBLIC_URL"] or app.config["SERVER_NAME"]):
        raise ConfigError(
            "refusing to start: set IDM_PUBLIC_URL (e.g. https://idm.example.org), "
            "the address reset links point to"
        )


INTROSPECTION_SECRET = re.compile(r"sha256:[0-9a-f]{64}")
KEY_SECONDS = ("IDM_KEY_PUBLISH_AHEAD", "IDM_KEY_ROTATION_DAYS", "IDM_KEY_CACHE_SECONDS")


def check_token_settings(app):
    """The algorithm, its secret when it is HMAC, the key schedule, the introspection clients."""
    from .keys import HMAC_ALGORITHMS, KEY_PAIR_ALGORITHMS

    config = app.config
    algorithm = config["IDM_JWT_ALGORITHM"]
    if algorithm not in KEY_PAIR_ALGORITHMS + HMAC_ALGORITHMS:
        choices = ", ".join(KEY_PAIR_ALGORITHMS + HMAC_ALGORITHMS)
        raise ConfigError(f"IDM_JWT_ALGORITHM must be one of {choices}, not {algorithm!r}")
    secret = config["IDM_JWT_HMAC_SECRET"]
    if algorithm in HMAC_ALGORITHMS and not secret:
        raise ConfigError(
            f"IDM_JWT_ALGORITHM {algorithm} signs with IDM_JWT_HMAC_SECRET, which is not set;"
            f" make one with: {SECRET_KEY_RECIPE} (or use RS256, the default)"
        )
    if secret:
        if not isinstance(secret, str) or secret == config["SECRET_KEY"]:
            raise ConfigError("IDM_JWT_HMAC_SECRET must be a text of its own, never SECRET_KEY")
        weakness = None if is_development(app) else secret_key_weakness(secret)
        if weakness:
            raise ConfigError(
                f"refusing to start: IDM_JWT_HMAC_SECRET is {weakness}; make one with:"
                f" {SECRET_KEY_RECIPE}"
            )
    for name in KEY_SECONDS:
        value = config[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{name} must be a whole number, 0 or more, not {value!r}")
    check_introspection_clients(config["IDM_INTROSPECTION_CLIENTS"])


def check_introspection_clients(clients):
    if not isinstance(clients, dict):
        raise ConfigError("IDM_INTROSPECTION_CLIENTS must be a dict {client id: secret hash}")
    for client_id, digest in clients.items():
        if not isinstance(client_id, str) or not client_id or ":" in client_id:
            raise ConfigError(
                f"IDM_INTROSPECTION_CLIENTS: {client_id!r} is no client id (text without ':')"
            )
        if not isinstance(digest, str) or not INTROSPECTION_SECRET.fullmatch(digest):
            raise ConfigError(
                f"IDM_INTROSPECTION_CLIENTS[{client_id!r}] must be 'sha256:<64 hex digits>',"
                " as `flask --app app keys client-secret` prints it, never the secret itself"
            )
