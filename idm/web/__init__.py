"""The HTML pages: one blueprint per module, side by side (see idm/blueprints.py)."""

from ..sessions import SessionInterface


def init_app(app):
    from . import account, admin, admin_audit, bootstrap, docs, reset, subject, subjects

    for module in (bootstrap, reset, account, subjects, subject, admin, admin_audit, docs):
        app.register_blueprint(module.bp)
    app.session_interface = SessionInterface()
