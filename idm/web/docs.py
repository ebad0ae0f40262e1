"""GET /docs: the OpenAPI description for people, in Swagger UI shipped under static/."""

from flask import render_template

from ..blueprints import PageBlueprint
from ..headers import PAGE_POLICY

bp = PageBlueprint("docs", __name__)

# Swagger UI draws its icons as data: images (in its stylesheet) and sets
# element styles from its script; everything else stays as strict as on
# every page: scripts from this site only, no inline script.
DOCS_POLICY = PAGE_POLICY.replace("img-src 'self'", "img-src 'self' data:")


@bp.get("/docs")
def reference():
    return render_template("docs.html"), 200, {"Content-Security-Policy": DOCS_POLICY}
