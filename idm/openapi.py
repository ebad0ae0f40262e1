"""The OpenAPI description of the JSON API: idm/openapi.yaml, with the values that live in code.

The file is the one description, written by hand and held to the app by
tests (tests/test_openapi.py: every JSON route described, no other; the
document valid; every JSON answer of the test suite checked against it).
What the code or the settings decide is filled in here, not written twice:
the audit actions and outcomes, the largest page sizes of this deployment
(``x-maximum-setting``), and the server's address.
"""

import copy
from functools import cache
from importlib import resources

import yaml
from flask import current_app

from . import audit


@cache
def written():
    """The description as written in idm/openapi.yaml, parsed once per process."""
    return yaml.safe_load(resources.files(__package__).joinpath("openapi.yaml").read_text())


def document(server_url):
    """The description for this app's settings, served at *server_url*."""
    doc = copy.deepcopy(written())
    doc["servers"] = [{"url": server_url}]
    doc["components"]["schemas"]["AuditAction"]["enum"] = sorted(audit.ACTIONS)
    doc["components"]["schemas"]["AuditOutcome"]["enum"] = sorted(audit.OUTCOMES)
    fill_settings(doc, current_app.config)
    return doc


def fill_settings(node, config):
    """Set each ``maximum`` that names its setting (``x-maximum-setting``) to that setting."""
    if isinstance(node, dict):
        if "x-maximum-setting" in node:
            node["maximum"] = config[node["x-maximum-setting"]]
        for value in node.values():
            fill_settings(value, config)
    elif isinstance(node, list):
        for value in node:
            fill_settings(value, config)
