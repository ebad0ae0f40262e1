"""Study staff's subjects list, /subjects, and recording consent from it.

Any signed-in user may use these pages, as any valid token may use the JSON
API's /subject routes: study staff need no admin rights. Each page calls
the idm/study function that the JSON route calls (``listing.list_subjects``
as ``GET /subject``, ``subjects.update_subject`` as ``PUT /subject/<sssid>``),
so the rules and their messages are the same. A subject's own page is
idm/web/subject.py.
"""

from flask import flash, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from .. import clock
from ..blueprints import PageBlueprint
from ..models import iso
from ..requests import int_arg, page_arg, page_count, text_arg
from ..sessions import session_required
from ..study import listing, state, subjects

bp = PageBlueprint("study", __name__, url_prefix="/subjects")

PER_PAGE = 25
# The page sizes the list offers; GET /subject's bound is the largest.
PAGE_SIZES = (10, 25, 50, 100)
# The "recently changed" block above the list: the original frontend's
# ordercol=changed&orderdir=DESC&perpage=4.
RECENT = 4
# What a confirmation page carries to come back where it started:
# ``back=subject`` for the subject's page, else the list's search, status, page, size.
RETURN = ("back", "search", "status", "page", "perpage")


@bp.get("")
@session_required
def index():
    """Every subject by name, a page at a time, with search and a status filter;
    above them, on the unfiltered first page, the ones changed last."""
    search = text_arg("search") or ""
    status = listing.check_status(text_arg("status"))
    perpage = int_arg("perpage", PER_PAGE, minimum=1, maximum=listing.MAX_PER_PAGE)
    page, offset = page_arg(perpage)
    listed, total = listing.list_subjects(offset, perpage, "name", False, search, status)
    recent = []
    if not (search or status) and page == 1 and total > RECENT:
        recent, _ = listing.list_subjects(0, RECENT, "changed", True)
    # What the links of the list keep: only what differs from the defaults.
    args = {"search": search or None, "status": status, "perpage": perpage_arg(perpage)}
    return render_template(
        "study/subjects.html",
        subjects=listed,
        recent=recent,
        total=total,
        search=search,
        status=status,
        statuses=state.STATUSES,
        page=page,
        pages=page_count(total, perpage),
        perpage=perpage,
        args=args,
        state={**args, "page": page if page > 1 else None},
        sizes=sorted({size for size in PAGE_SIZES if size <= listing.MAX_PER_PAGE} | {perpage}),
    )


def perpage_arg(perpage):
    return perpage if perpage != PER_PAGE else None


@bp.get("/<sssid>/consent")
@session_required
def confirm_consent(sssid):
    """Asks before consent is recorded: once set, it never changes."""
    view = subjects.find(sssid)
    kept = {name: request.args[name] for name in RETURN if request.args.get(name)}
    return render_template("study/consent.html", view=view, state=kept, cancel=back_url(view, kept))


@bp.post("/<sssid>/consent")
@session_required
def record_consent(sssid):
    """Consent given now, as ``PUT /subject/<sssid>`` with ``date_consented`` records it."""
    view = subjects.find(sssid)
    try:
        found = subjects.checked_fields({"date_consented": iso(clock.now())})
        view = subjects.update_subject(view, found)
    except HTTPException as error:
        flash(error.description, "error")
    else:
        flash(f"Recorded the consent of {view.subject.name} ({view.subject.sssid}).", "success")
    kept = {name: request.form[name] for name in RETURN if request.form.get(name)}
    return redirect(back_url(view, kept))


def back_url(view, kept):
    """The subject's page, or the list as it was. Built with url_for, never
    taken as a URL from the form, so it cannot lead to another site."""
    if kept.get("back") == "subject":
        return url_for("subject.show", sssid=view.subject.sssid)
    return url_for(".index", **{k: v for k, v in kept.items() if k != "back"})
