"""Every JSON answer the tests receive is held to the OpenAPI description.

``check(method, path, status, content_type, body)`` finds the operation of
idm/openapi.yaml that serves *path*, and fails (AssertionError) when the
status is not documented for it, when the content type is not, or when the
body does not match the schema. Answers of paths that no operation serves
(404, 405) must still be the one error shape. tests/conftest.py calls it for
every response of the test client and of ``http_json``.
"""

import json
import re
from functools import cache

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from idm.openapi import written

JSON_TYPES = ("application/json",)


@cache
def description():
    """The written description with the code's values, for any test app's defaults."""
    from idm import create_app

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.app_context():
        from idm.openapi import document

        return document("http://localhost")


@cache
def registry():
    resource = Resource.from_contents(description(), default_specification=DRAFT202012)
    return Registry().with_resource("urn:idm-openapi", resource)


@cache
def operations():
    """[(regex, path template, method) …], literal paths before templated ones."""
    found = []
    for template, item in written()["paths"].items():
        pattern = re.escape(template)
        pattern = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", pattern)
        for method in item:
            if method != "parameters":
                found.append((re.compile(pattern + r"\Z"), template, method.upper()))
    return sorted(found, key=lambda entry: entry[1].count("{"))


def operation_for(method, path):
    for pattern, template, operation_method in operations():
        if operation_method == method and pattern.match(path):
            return template, description()["paths"][template][method.lower()]
    return None, None


def pointer_part(name):
    return name.replace("~", "~0").replace("/", "~1")


def resolve(pointer):
    """(node, pointer) at *pointer* of the description, following $refs."""
    while True:
        node = description()
        for part in pointer.strip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        if "$ref" not in node:
            return node, pointer
        pointer = node["$ref"].partition("#")[2]


def validate(body, pointer, what):
    """*body* against the schema at *pointer*, whose $refs resolve in the description."""
    validator = jsonschema.Draft202012Validator(
        {"$ref": "urn:idm-openapi#" + pointer},
        registry=registry(),
        format_checker=jsonschema.FormatChecker(),
    )
    errors = sorted(validator.iter_errors(body), key=lambda error: list(error.path))
    assert not errors, f"{what}: the body does not match the description: {errors[0].message}"


def check(method, path, status, content_type, raw_body):
    """Fail unless this answer is one the description promises."""
    method = method.upper()
    if method in ("HEAD", "OPTIONS"):
        return
    mimetype = (content_type or "").split(";")[0].strip()
    template, operation = operation_for(method, path)
    what = f"{method} {template or path} -> {status}"
    if operation is None:
        if mimetype in JSON_TYPES:
            validate(json.loads(raw_body), "/components/schemas/Error", what)
        return
    assert str(status) in operation["responses"], f"{what}: status not in the description"
    base = "/".join(["/paths", pointer_part(template), method.lower(), "responses", str(status)])
    response, pointer = resolve(base)
    content = response.get("content")
    if not content:
        assert not raw_body, f"{what}: the description promises no body"
        return
    assert mimetype in content, f"{what}: {mimetype or 'no content type'} not described"
    if mimetype in JSON_TYPES:
        schema = "/".join([pointer, "content", pointer_part(mimetype), "schema"])
        validate(json.loads(raw_body), schema, what)
