"""The IDM service: a user database that issues JWT access tokens."""

import logging
import os
import re

from flask import Config, Flask
from werkzeug.middleware.proxy_fix import ProxyFix

log = logging.getLogger(__name__)

# The project root holds defaults.py, settings.py, templates/ and static/.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the message says why."""


def create_app(test_config=None):
    """Build the app: defaults.py -> settings.py -> environment -> test_config."""
    app = Flask(
        __name__,
        instance_path=os.path.join(ROOT, "instance"),
        template_folder=os.path.join(ROOT, "templates"),
        static_folder=os.path.join(ROOT, "static"),
    )
    load_config(app, test_config)
    check_config(app)
    proxies = app.config["IDM_PROXY_COUNT"]
    if proxies:
        # Believe exactly that many X-Forwarded-* hops, never more.
        app.wsgi_app = ProxyFix(app.wsgi_app, proxies, proxies, proxies, proxies)

    from . import models, schema
    from .auth import csrf
    from .errors import register_error_handlers

    models.db.init_app(app)
    schema.init_app(app)
    csrf.init_app(app)
    register_error_handlers(app)

    from . import (
        api_audit,
        api_auth,
        api_service,
        api_users,
        cli,
        mail,
        pages,
        reset_pages,
        sender,
    )

    for module in (api_service, api_auth, api_users, api_audit):
        csrf.exempt(module.bp)  # bearer tokens, not cookies: no CSRF to fear
        app.register_blueprint(module.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(reset_pages.bp)
    cli.register(app)
    mail.init_app(app)
    sender.init_app(app)

    from . import admin, admin_session, headers

    app.register_blueprint(admin.bp)  # HTML forms: CSRF-protected like /init
    app.session_interface = admin_session.SessionInterface()
    headers.register(app)

    with app.app_context():
        # The schema comes from `flask db upgrade`, never from here.
        if schema.check_at_start():
            pages.announce_setup()
    return app


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
    if not config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        options.setdefault("pool_pre_ping", True)
    return options


def is_development(app):
    return app.debug or app.testing


def default_setting(name):
    defaults = Config(ROOT)
    defaults.from_pyfile("defaults.py")
    return defaults[name]


def check_config(app):
    from . import tokens

    public_url = app.config["IDM_PUBLIC_URL"]
    if public_url and not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", public_url):
        raise ConfigError(
            f"IDM_PUBLIC_URL must look like https://idm.example.org[/prefix], not {public_url!r}"
        )
    algorithm = app.config["IDM_JWT_ALGORITHM"]
    if algorithm not in tokens.HMAC_ALGORITHMS:
        choices = ", ".join(tokens.HMAC_ALGORITHMS)
        raise ConfigError(f"IDM_JWT_ALGORITHM must be one of {choices}, not {algorithm!r}")
    if is_development(app):
        return
    if app.config["SECRET_KEY"] in (None, "", default_setting("SECRET_KEY")):
        raise ConfigError(
            "refusing to start: SECRET_KEY is the public default; "
            "set SECRET_KEY in settings.py or FLASK_SECRET_KEY in the environment"
        )
    # Reset links must not take their host from a Host header nobody vouches for.
    if not (app.config["IDM_PUBLIC_URL"] or app.config["SERVER_NAME"]):
        raise ConfigError(
            "refusing to start: set IDM_PUBLIC_URL (e.g. https://idm.example.org), "
            "the address reset links point to"
        )
