"""The JSON API: one blueprint per module, side by side (see idm/blueprints.py)."""


def init_app(app):
    from . import audit, discovery, metrics, service, tokens, users

    for module in (service, metrics, discovery, tokens, users, audit):
        app.register_blueprint(module.bp)
