"""Helpers for the study tests: the link secret, subjects and links in a given state.

A study test module overrides conftest's ``app_config`` with STUDY_CONFIG,
so that every app of the module signs links with LINK_SECRET, as a
deployment does with its app's secret, and calls a plain user's headers
``staff``: study staff need no admin rights.
"""

import jwt
import log_secrets

# What a study's app is built with: 32+ characters, never SECRET_KEY.
LINK_SECRET = "study-link-secret-for-tests-0123456789"
log_secrets.note(LINK_SECRET)
STUDY_CONFIG = {"IDM_LINK_SECRET": LINK_SECRET}

JANE = {"sssid": "S-0042", "name": "Jane Roe", "bday": "1980-05-01", "email": "jane@example.org"}
PATIENT_ID = "2a0ab8f6-1c5e-4f41-9d0e-7c3f5b7a8e11"
DATA_SERVER = "https://data.example.org/fhir"


def patient(value=PATIENT_ID, system=DATA_SERVER):
    """The FHIR Patient the C3-PRO app posts to /establish."""
    return {"resourceType": "Patient", "identifier": [{"system": system, "value": value}]}


def create_subject(client, headers, **fields):
    body = {**JANE, **fields}
    response = client.post("/subject", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json["data"]


def consented_subject(client, headers, **fields):
    subject = create_subject(client, headers, **fields)
    sssid = subject["sssid"]
    body = {"date_consented": "2026-11-24T17:40:00+01:00"}
    response = client.put(f"/subject/{sssid}", json=body, headers=headers)
    assert response.status_code == 200, response.json
    return response.json["data"]


def new_link(client, headers, sssid=JANE["sssid"]):
    response = client.post(f"/subject/{sssid}/links", headers=headers)
    assert response.status_code == 201, response.json
    return response.json["data"]


def link_jwt(client, headers, jti):
    response = client.get(f"/link/{jti}/jwt", headers=headers)
    assert response.status_code == 200, response.json
    return response.get_data(as_text=True)


def decode(token, secret=LINK_SECRET):
    """What the app reads from a link JWT: verified with HS256 and the shared secret."""
    return jwt.decode(token, secret, algorithms=["HS256"], options={"verify_aud": False})


def establish(client, token, body=None, scheme="Bearer"):
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    return client.post("/establish", json=patient() if body is None else body, headers=headers)
