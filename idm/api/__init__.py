"""The JSON API: one blueprint per module, side by side (see idm/blueprints.py)."""


def init_app(app):
    from . import audit, discovery, links, metrics, service, subjects, tokens, users

    for module in (service, metrics, discovery, tokens, users, audit, subjects, links):
        app.register_blueprint(module.bp)
