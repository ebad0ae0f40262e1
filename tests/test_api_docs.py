"""docs/api.md lists exactly the routes the app serves.

A route is written "`METHOD /path`", with Flask's ``<converter:name>`` as
``<name>``. Every route of the app must appear so in a heading or a table
row; every route the page names that way, anywhere, must exist.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "api.md").read_text()

# "`GET /user/<user_id>`", also "`POST /auth/logout?all=1`" (the query is not the route).
MENTION = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`?\s]*)(?:\?[^`]*)?`")
CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def app_routes(app):
    """{"GET /user/<user_id>", …} of the app, HEAD and OPTIONS left out."""
    routes = set()
    for rule in app.url_map.iter_rules():
        path = CONVERTER.sub(r"<\1>", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add(f"{method} {path}")
    return routes


def mentions(lines):
    return {f"{method} {path}" for line in lines for method, path in MENTION.findall(line)}


def listed_routes():
    """Routes named in a heading or a table row: where a route is documented."""
    return mentions(line for line in DOC.splitlines() if line.startswith(("#", "|")))


def test_every_route_of_the_app_is_documented(app):
    missing = sorted(app_routes(app) - listed_routes())
    assert not missing, f"docs/api.md has no heading or table row for: {', '.join(missing)}"


def test_every_route_the_doc_names_exists(app):
    unknown = sorted(mentions(DOC.splitlines()) - app_routes(app))
    assert not unknown, f"docs/api.md names routes the app does not serve: {', '.join(unknown)}"


def test_the_route_table_lists_every_route(app):
    table = DOC.split("## Routes at a glance\n", 1)[1].split("\n## ", 1)[0]
    rows = mentions(line for line in table.splitlines() if line.startswith("|"))
    missing = sorted(app_routes(app) - rows)
    assert not missing, f"the route table of docs/api.md lacks: {', '.join(missing)}"


def test_the_patterns_read_routes_as_written():
    assert mentions(["| `GET /static/<filename>` | anyone |"]) == {"GET /static/<filename>"}
    assert mentions(["see `POST /auth/logout?all=1` and `DELETE /user`"]) == {
        "POST /auth/logout",
        "DELETE /user",
    }
    assert CONVERTER.sub(r"<\1>", "/static/<path:filename>") == "/static/<filename>"
