"""The OpenAPI description of the JSON API: idm/openapi.yaml, with the values that live in code.

The file is the one description, written by hand and held to the app by
tests (tests/test_openapi.py: every JSON route described, no other; the
document valid; every JSON answer of the test suite checked against it).
What the code or the settings decide is filled in here, not written twice:
the audit actions and outcomes, the largest page sizes and the password lengths of
this deployment (``x-maximum-setting`` and friends), the server's address, and the
statuses that any operation may answer (``COMMON_RESPONSES``).
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
    add_common_responses(doc)
    return doc


# What any operation may answer, whatever it does: written once, here.
COMMON_RESPONSES = {"414": {"$ref": "#/components/responses/UriTooLong"}}
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def add_common_responses(doc):
    for item in doc["paths"].values():
        for method, operation in item.items():
            if method in METHODS:
                for status, response in COMMON_RESPONSES.items():
                    operation["responses"].setdefault(status, response)


# Extension naming a setting -> the JSON Schema keyword that takes its value.
FROM_SETTINGS = {
    "x-maximum-setting": "maximum",
    "x-min-length-setting": "minLength",
    "x-max-length-setting": "maxLength",
}


def fill_settings(node, config):
    """Set each bound that names its setting (``x-maximum-setting``, …) to that setting."""
    if isinstance(node, dict):
        for extension, keyword in FROM_SETTINGS.items():
            if extension in node:
                node[keyword] = config[node[extension]]
        for value in node.values():
            fill_settings(value, config)
    elif isinstance(node, list):
        for value in node:
            fill_settings(value, config)
