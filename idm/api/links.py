"""Study links as JSON: /link/<jti>, its JWT, and POST /establish for the app.

/link routes: study staff (any valid access token). /establish: the app,
with the link JWT as its bearer token and nothing else.
"""

from flask import Response, request
from werkzeug.exceptions import NotAcceptable

from .. import link_tokens
from ..auth import AuthenticationRequired, bearer_token, login_required
from ..blueprints import ApiBlueprint
from ..link_tokens import InvalidLinkToken
from ..requests import json_object
from ..study import establish, links

bp = ApiBlueprint("links", __name__)


@bp.get("/link/<jti>")
@login_required
def read(jti):
    return {"data": links.find(jti).to_json()}


@bp.put("/link/<jti>")
@login_required
def change(jti):
    view = links.find(jti)
    data = json_object(allowed=links.JSON_FIELDS)
    return {"data": links.withdraw(view, data).to_json()}


@bp.get("/link/<jti>/jwt")
@login_required
def token(jti):
    """The bare JWT (what the QR code encodes), not JSON: the frontend reads it as is."""
    return Response(links.token(links.find(jti)), mimetype="application/jwt")


@bp.post("/establish")
def establish_link():
    """The app links itself: the link JWT as bearer token, a FHIR Patient as body."""
    link_tokens.secret()  # 503 while no link can be verified
    token = bearer_token()
    if token is None:
        raise AuthenticationRequired("send the link JWT: Authorization: Bearer <link JWT>")
    try:
        view = establish.authenticate(token)
    except InvalidLinkToken as error:
        raise AuthenticationRequired(str(error), token_sent=True) from None
    value, system = establish.patient_identifier(patient_body())
    establish.establish(view, value, system)
    return "", 204


def patient_body():
    """The request's JSON (application/json or application/fhir+json), or 406."""
    if not request.is_json:
        raise NotAcceptable("the body must be a FHIR Patient resource in JSON")
    try:
        return request.get_json(silent=True)
    except RecursionError:
        raise NotAcceptable("the body is nested too deeply") from None
