"""The IDM service: a user database that issues JWT access tokens.

``create_app`` builds the app; docs/architecture.md shows where everything lives.
"""

import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config
from .bodies import ChunkedBodyLimit
from .config import ConfigError

__all__ = ["ConfigError", "create_app"]


def create_app(test_config=None):
    """Build the app: defaults.py -> settings.py -> environment -> test_config."""
    root = config.ROOT
    app = Flask(
        __name__,
        instance_path=os.path.join(root, "instance"),
        template_folder=os.path.join(root, "templates"),
        static_folder=os.path.join(root, "static"),
    )
    config.load_config(app, test_config)
    config.check_config(app)
    # Innermost: sees the body exactly as the server hands it over.
    app.wsgi_app = ChunkedBodyLimit(app.wsgi_app, app.config)
    proxies = app.config["IDM_PROXY_COUNT"]
    if proxies:
        # Believe exactly that many X-Forwarded-* hops, never more.
        app.wsgi_app = ProxyFix(app.wsgi_app, proxies, proxies, proxies, proxies)

    from . import api, bootstrap, cli, errors, headers, logs, mail, schema, web
    from .csrf import csrf
    from .models import db

    logs.init_app(app)
    db.init_app(app)
    schema.init_app(app)
    csrf.init_app(app)
    errors.init_app(app)
    headers.init_app(app)
    mail.init_app(app)
    api.init_app(app)
    web.init_app(app)
    cli.init_app(app)

    with app.app_context():
        # The schema comes from `flask db upgrade`, never from here.
        if schema.check_at_start():
            bootstrap.announce_setup()
    return app
