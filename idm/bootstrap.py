"""The first admin: the optional one-time setup code, and telling the operator.

/init (idm/web/bootstrap.py) creates the first admin with
``users.create_first_admin``; until then the service says so in its log.
"""

import hashlib
import hmac
import logging

from flask import current_app
from werkzeug.exceptions import Forbidden

from .models import admin_exists

log = logging.getLogger(__name__)


def setup_code():
    """The one-time /init code: derived from SECRET_KEY, so every worker and
    the CLI agree without storing it, and nobody without the key can guess it."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, b"idm-init-setup-code", hashlib.sha256).hexdigest()
    return "-".join(digest[i : i + 4] for i in range(0, 12, 4))


def check_setup_code(code):
    """Forbidden unless *code* is the setup code, when IDM_INIT_REQUIRE_CODE asks for one."""
    if not current_app.config["IDM_INIT_REQUIRE_CODE"]:
        return
    if not hmac.compare_digest(code.strip().encode(), setup_code().encode()):
        raise Forbidden("the setup code is wrong; it is in the service's log")


def announce_setup():
    """At start-up, say loudly that the service waits for its first admin."""
    if admin_exists():
        return
    if current_app.config["IDM_INIT_REQUIRE_CODE"]:
        log.warning(
            "NO ADMIN EXISTS: open /init to create the first admin account; "
            "it asks for this setup code: %s",
            setup_code(),
        )
    else:
        log.warning("NO ADMIN EXISTS: open /init to create the first admin account.")
