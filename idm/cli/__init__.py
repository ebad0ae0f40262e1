"""``flask --app app …`` commands for operators on the host, one group per module.

Commands call the same service functions as the HTTP API, so every rule
holds on the command line too.
"""


def init_app(app):
    from . import audit, bootstrap, keys, mail, subjects, users

    for module in (users, audit, mail, bootstrap, keys, subjects):
        app.cli.add_command(module.command)
