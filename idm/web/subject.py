"""One study subject's pages: a new subject, the subject's page and its edit
form, the QR code of its link, and a withdrawal.

Any signed-in user, as for the JSON API's /subject and /link routes. Each
form calls the idm/study function of the JSON route (``subjects.create`` as
``POST /subject``, ``update_subject`` as ``PUT /subject/<sssid>``,
``links.withdraw`` as ``PUT /link/<jti>``), so a rule and its message read
the same. A refused form comes back with what was typed and each message
next to its field: the domain's messages start with the field they are
about (``bday must be a date written YYYY-MM-DD``).
"""

from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from .. import clock, qr
from ..blueprints import PageBlueprint
from ..models import iso
from ..sessions import session_required
from ..study import links, subjects

bp = PageBlueprint("subject", __name__)

NEW_FIELDS = ("sssid", "name", "bday", "email")
# The sssid never changes: the edit form has the others only.
EDITABLE = ("name", "bday", "email")


# Not /subjects/new: "new" is a valid sssid, whose page that would hide.
@bp.route("/new-subject", methods=["GET", "POST"])
@session_required
def create():
    if request.method == "GET":
        return render_new(dict.fromkeys(NEW_FIELDS, ""))
    values = form_values(NEW_FIELDS)
    found, problems = subjects.field_problems(values, NEW_FIELDS)
    status = 400
    if not problems:
        try:
            view = subjects.create(found)
        except HTTPException as error:
            problems, status = field_problem(error, NEW_FIELDS), error.code
        else:
            flash(f"Created subject {view.subject.sssid}, {view.subject.name}.", "success")
            return redirect(url_for(".show", sssid=view.subject.sssid))
    return render_new(values, problems, status)


def render_new(values, problems=None, status=200):
    return render_template("study/subject_new.html", values=values, problems=problems or {}), status


def form_values(names):
    """The form's text for each field, kept as typed to show it again."""
    return {name: request.form.get(name, "") for name in names}


def field_problem(error, names):
    """{field: message} for a refusal whose message starts with a field's name,
    else the message on its own (shown at the top of the page)."""
    field = error.description.split(" ", 1)[0]
    return {field if field in names else "": error.description}


@bp.get("/subjects/<sssid>")
@session_required
def show(sssid):
    """The subject: its facts and what can be done next, the edit form, its
    links with their states, and its activity log."""
    view = subjects.find(sssid)
    return render_subject(view, current_values(view))


def current_values(view):
    subject = view.subject
    return {"name": subject.name, "bday": subject.bday.isoformat(), "email": subject.email or ""}


def render_subject(view, values, problems=None, status=200):
    now = clock.now()
    listed = links.views_of(view, subjects.links_of(view))
    history = [
        {**event, "at": datetime.fromisoformat(event["datetime"])}
        for event in subjects.history(view)
    ]
    page = render_template(
        "study/subject.html",
        view=view,
        subject=view.subject,
        links=[(link, links.state_of(link, now)) for link in listed],
        history=history,
        values=values,
        problems=problems or {},
    )
    return page, status


@bp.post("/subjects/<sssid>")
@session_required
def change(sssid):
    view = subjects.find(sssid)
    values = form_values(EDITABLE)
    found, problems = subjects.field_problems(values, EDITABLE)
    status = 400
    if not problems:
        try:
            changed = subjects.update_subject(view, found)
        except HTTPException as error:
            problems, status = field_problem(error, EDITABLE), error.code
        else:
            saved = changed is not view  # the same view back: nothing differed
            flash("Saved the changes." if saved else "Nothing to save: no field changed.",
                  "success")  # fmt: skip
            return redirect(url_for(".show", sssid=sssid))
    return render_subject(view, values, problems, status)


@bp.post("/subjects/<sssid>/qrcode")
@session_required
def hand_out(sssid):
    """The subject's waiting link, or a new one (``links.hand_out``), then its QR code."""
    link = links.hand_out(subjects.find(sssid))
    return redirect(url_for(".qrcode", sssid=sssid, jti=link.link.jti), 303)


def subject_link(sssid, jti):
    """(subject view, link view) of the path; 404 for a link of another subject."""
    view = subjects.find(sssid)
    link = links.find(jti)
    if link.subject.id != view.subject.id:
        abort(404, f"no link {jti}")
    return view, link


@bp.get("/subjects/<sssid>/links/<jti>/qrcode")
@session_required
def qrcode(sssid, jti):
    """The link's QR code, drawn here from its JWT; 410 once the link is closed.
    Like every page, answered with Cache-Control: no-store."""
    view, link = subject_link(sssid, jti)
    token = links.token(link)  # signed again from the stored claims
    title = f"QR code linking the study's app to {view.subject.name}"
    return render_template(
        "study/qrcode.html", view=view, link=link.link, code=qr.svg(token, title)
    )


@bp.get("/subjects/<sssid>/links/<jti>/withdraw")
@session_required
def confirm_withdraw(sssid, jti):
    view, link = subject_link(sssid, jti)
    return render_template("study/withdraw.html", view=view, link=link.link)


@bp.post("/subjects/<sssid>/links/<jti>/withdraw")
@session_required
def withdraw(sssid, jti):
    """The subject withdrew, now, through this link, as ``PUT /link/<jti>`` records it."""
    view, link = subject_link(sssid, jti)
    try:
        links.withdraw(link, {"withdrawn_on": iso(clock.now())})
    except HTTPException as error:
        flash(error.description, "error")
    else:
        flash(f"{view.subject.name} ({sssid}) has withdrawn from the study.", "success")
    return redirect(url_for(".show", sssid=sssid))
