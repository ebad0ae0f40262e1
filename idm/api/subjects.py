"""Study subjects as JSON: /subject, /subject/<sssid>, its links and its activity log.

Study staff: any valid access token, no admin rights needed (the study's
web frontend logs in as a staff account).
"""

from flask import url_for

from ..auth import login_required
from ..blueprints import ApiBlueprint
from ..requests import json_object, query_parameters, text_arg, window_args
from ..study import links, listing, subjects

bp = ApiBlueprint("subjects", __name__)

# Derived fields are let through json_object so that the refusal names them as such.
FIELDS = set(subjects.WRITABLE) | set(subjects.DERIVED)


@bp.get("/subject")
@login_required
@query_parameters("offset", "perpage", "ordercol", "orderdir", "search", "status")
def index():
    offset, perpage = window_args(listing.PER_PAGE, listing.MAX_PER_PAGE)
    column, descending = listing.check_order(text_arg("ordercol"), text_arg("orderdir"))
    status = listing.check_status(text_arg("status"))
    page, total = listing.list_subjects(
        offset, perpage, column, descending, text_arg("search"), status
    )
    return {"data": [view.to_json() for view in page], "total": total}


@bp.post("/subject")
@login_required
def create():
    data = json_object(allowed=FIELDS)
    view = subjects.create(subjects.checked_fields(data, required=("sssid", "name", "bday")))
    location = url_for("subjects.read", sssid=view.subject.sssid)
    return {"data": view.to_json()}, 201, {"Location": location}


@bp.get("/subject/<sssid>")
@login_required
def read(sssid):
    return {"data": subjects.find(sssid).to_json()}


@bp.put("/subject/<sssid>")
@login_required
def change(sssid):
    view = subjects.find(sssid)
    found = subjects.checked_fields(json_object(allowed=FIELDS))
    return {"data": subjects.update_subject(view, found).to_json()}


@bp.get("/subject/<sssid>/links")
@login_required
def list_links(sssid):
    view = subjects.find(sssid)
    return {"data": [link.to_json() for link in links.views_of(view, subjects.links_of(view))]}


@bp.post("/subject/<sssid>/links")
@login_required
def create_link(sssid):
    return {"data": links.create(subjects.find(sssid)).to_json()}, 201


@bp.get("/subject/<sssid>/audits")
@login_required
def audits(sssid):
    return {"data": subjects.history(subjects.find(sssid))}
