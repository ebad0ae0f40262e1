"""The study's real clients, replayed against a real gunicorn: the C3-PRO web frontend and app.

The frontend (Node/Express, services/subjects.js and services/links.js)
sends its requests with the ``request`` library: the bytes below are those
requests, header names in the case it writes them, the query strings it
builds, bodies as JSON.stringify makes them. Its answers are read as its
``dataOrErrorFromJSONResponse`` reads them: every non-empty body is parsed
as JSON (a body that is not would throw there), ``data`` on success,
``error.message`` on failure; only the link's JWT is read bare.

The app (C3-PRO iOS/Android, ProfileLink) verifies the scanned JWT with
HS256 and the shared secret, reads ``sub`` and ``birthdate``, and posts a
FHIR Patient to ``aud`` + ``establish`` with the JWT as bearer token.
"""

import json
import socket
import urllib.parse
import uuid
from datetime import UTC, datetime

import jwt
import pytest
from conftest import ADMIN, USER, LiveServer, http_json
from study_helpers import DATA_SERVER, LINK_SECRET

pytestmark = pytest.mark.slow


@pytest.fixture
def study_server(tmp_path, database_uri):
    """gunicorn with two workers, the app's link secret, a staff account."""
    server = LiveServer(
        tmp_path, database_uri=database_uri, settings=f"IDM_LINK_SECRET = {LINK_SECRET!r}\n"
    )
    server.init_admin(*ADMIN)
    status, _, body = http_json(
        server.url + "/auth", "POST", {"username": ADMIN[0], "password": ADMIN[1]}
    )
    assert status == 200
    staff = {"username": USER[0], "password": USER[1]}
    assert http_json(server.url + "/user", "POST", staff, body["access_token"])[0] == 201
    yield server
    server.stop()


def raw_request(url, lines, body=b""):
    """Send exactly these request lines (and body) to *url*'s host; (status, headers, body)."""
    parts = urllib.parse.urlsplit(url)
    message = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as connection:
        connection.sendall(message)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, payload = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, payload


class Frontend:
    """What services/subjects.js and services/links.js send, byte for byte, and how they read it."""

    def __init__(self, server, token):
        self.url, self.token = server.url, token
        self.host = urllib.parse.urlsplit(server.url).netloc

    def send(self, method, path, extra=(), body=None):
        # request sets the caller's headers first, then host, then the body's length;
        # Node's http adds Connection: close (no keep-alive agent).
        lines = [f"{method} {path} HTTP/1.1", f"Authorization: JWT {self.token}", *extra]
        lines.append(f"host: {self.host}")
        payload = b""
        if body is not None:
            payload = json.dumps(body, separators=(",", ":")).encode()  # JSON.stringify
            lines.append(f"content-length: {len(payload)}")
        elif method != "GET":
            lines.append("content-length: 0")  # request does this for a body-less POST
        lines.append("Connection: close")
        return raw_request(self.url, lines, payload)

    @staticmethod
    def read(status, raw):
        """utils.js dataOrErrorFromJSONResponse: JSON.parse of any non-empty body."""
        parsed = json.loads(raw) if raw else {}
        if status < 400:
            return {"statusCode": status, "data": parsed.get("data", parsed)}
        return {"statusCode": status, "errorMessage": parsed["error"]["message"]}

    def call(self, method, path, extra=(), body=None):
        status, _, raw = self.send(method, path, extra, body)
        return self.read(status, raw)

    # services/subjects.js
    def get_subjects(self, offset, perpage, ordercol, orderdir, status=None):
        query = f"?offset={offset}&perpage={perpage}&ordercol={ordercol}&orderdir={orderdir}"
        if status is not None:
            query += f"&status={status}"
        return self.call("GET", "/subject" + query)

    def new_subject(self, subject):
        return self.call("POST", "/subject", ["Content-Type: application/json"], subject)

    def update_subject(self, sssid, subject):
        answer = self.call("PUT", f"/subject/{sssid}", ["Content-Type: application/json"], subject)
        return answer if "errorMessage" in answer else self.call("GET", f"/subject/{sssid}")

    def get_subject_links(self, sssid):
        return self.call("GET", f"/subject/{sssid}/links", ["Accept: application/json"])

    def create_subject_link(self, sssid):
        return self.call("POST", f"/subject/{sssid}/links", ["Accept: application/json"])

    def get_audit_history(self, sssid):
        return self.call("GET", f"/subject/{sssid}/audits", ["Accept: application/json"])

    # services/links.js
    def get_jwt_for_link(self, jti):
        status, headers, raw = self.send("GET", f"/link/{jti}/jwt", ["Accept: application/jwt"])
        if status < 400:
            assert headers["content-type"] == "application/jwt"
            return {"data": raw.decode(), "statusCode": status}
        return self.read(status, raw)

    def qr_code_jwt(self, sssid):
        """getSubjectQRCode: reuse an unlinked link that has not expired, else make one."""
        links = self.get_subject_links(sssid)["data"]
        now = datetime.now(UTC)
        reusable = [
            link
            for link in links
            if not link["linked_to"]
            and (not link["exp"] or datetime.fromisoformat(link["exp"]) > now)
        ]
        jti = reusable[0]["_id"] if reusable else self.create_subject_link(sssid)["data"]["_id"]
        return jti, self.get_jwt_for_link(jti)


def staff_token(server):
    credentials = {"username": USER[0], "password": USER[1]}
    return http_json(server.url + "/auth", "POST", credentials)[2]["access_token"]


def test_the_frontends_requests_byte_for_byte(study_server):
    frontend = Frontend(study_server, staff_token(study_server))

    created = frontend.new_subject(
        {"sssid": "S-0042", "name": "Jane Roe", "bday": "1980-05-01", "email": ""}
    )
    taken = frontend.new_subject(
        {"sssid": "S-0042", "name": "Jane Roe", "bday": "1980-05-01", "email": ""}
    )
    by_name = frontend.get_subjects(0, 51, "name", "ASC")
    recent = frontend.get_subjects(0, 4, "changed", "DESC")
    consented = frontend.update_subject(
        "S-0042", {"sssid": "S-0042", "date_consented": "2026-11-24T17:40:00+01:00"}
    )
    again = frontend.update_subject(
        "S-0042", {"sssid": "S-0042", "date_consented": "2026-11-25T09:00:00+01:00"}
    )
    edited = frontend.update_subject(
        "S-0042", {"sssid": "S-0042", "name": "Jane Smith", "bday": "1980-05-01", "email": ""}
    )
    consented_only = frontend.get_subjects(0, 51, "name", "ASC", status="consented")

    assert created["statusCode"] == 201 and created["data"]["sssid"] == "S-0042"
    assert taken == {"statusCode": 409, "errorMessage": "sssid S-0042 is already taken"}
    assert (
        [s["sssid"] for s in by_name["data"]] == [s["sssid"] for s in recent["data"]] == ["S-0042"]
    )
    assert consented["data"]["date_consented"] == "2026-11-24T16:40:00+00:00"
    assert again == {"statusCode": 409, "errorMessage": "subject has already been consented"}
    assert edited["data"]["name"] == "Jane Smith" and edited["data"]["email"] is None
    assert [s["sssid"] for s in consented_only["data"]] == ["S-0042"]


def test_the_frontends_qr_code_reuses_an_open_link(study_server):
    frontend = Frontend(study_server, staff_token(study_server))
    frontend.new_subject({"sssid": "S-0042", "name": "Jane Roe", "bday": "1980-05-01", "email": ""})

    too_early = frontend.create_subject_link("S-0042")
    frontend.update_subject(
        "S-0042", {"sssid": "S-0042", "date_consented": "2026-11-24T17:40:00+01:00"}
    )
    first_jti, first = frontend.qr_code_jwt("S-0042")
    second_jti, second = frontend.qr_code_jwt("S-0042")

    assert too_early == {"statusCode": 412, "errorMessage": "subject S-0042 has not consented yet"}
    assert first["statusCode"] == 200 and first["data"].count(".") == 2
    assert second_jti == first_jti and second["data"] == first["data"]  # the open link is reused
    assert len(frontend.get_subject_links("S-0042")["data"]) == 1
    unknown = frontend.get_jwt_for_link("AAAAAAAAAAAAAAAAAAAAAA")
    assert unknown == {"statusCode": 404, "errorMessage": "no link AAAAAAAAAAAAAAAAAAAAAA"}


def test_the_frontend_is_told_when_its_token_is_no_good(study_server):
    frontend = Frontend(study_server, "not-a-token")

    answer = frontend.get_subjects(0, 51, "name", "ASC")

    assert answer["statusCode"] == 401 and answer["errorMessage"].startswith("token ")


class App:
    """ProfileLink and ProfileManager of the C3-PRO iOS framework, as far as the IDM sees them."""

    def __init__(self, secret):
        self.secret = secret
        self.user_id = str(uuid.uuid4())  # ProfileManager.userFromLink: a random UUID

    def scan(self, token):
        """ProfileLink(token:using:): HS256 with the shared secret, verified."""
        self.token = token
        self.claims = jwt.decode(
            token, self.secret, algorithms=["HS256"], options={"verify_aud": False}
        )
        return {"name": self.claims["sub"], "birthdate": self.claims["birthdate"]}

    def establish_link(self):
        """ProfileLink.request(linking:dataEndpoint:): POST aud + "establish"."""
        audience = self.claims["aud"]
        url = audience + ("" if audience.endswith("/") else "/") + "establish"
        parts = urllib.parse.urlsplit(url)
        body = json.dumps(
            {
                "resourceType": "Patient",
                "identifier": [{"value": self.user_id, "system": DATA_SERVER}],
            }
        ).encode()
        lines = [
            f"POST {parts.path} HTTP/1.1",
            f"Host: {parts.netloc}",
            f"Authorization: Bearer {self.token}",
            "Content-type: application/json",  # as the framework spells it
            "Accept: */*",
            f"Content-Length: {len(body)}",
            "User-Agent: C-Tracker/1 CFNetwork/1240.0.4 Darwin/20.5.0",
            "Connection: close",
        ]
        status, _, raw = raw_request(url, lines, body)
        return status, raw


def test_the_app_scans_the_link_and_enrolls_the_subject(study_server):
    frontend = Frontend(study_server, staff_token(study_server))
    frontend.new_subject({"sssid": "S-0042", "name": "Jane Roe", "bday": "1980-05-01", "email": ""})
    frontend.update_subject(
        "S-0042", {"sssid": "S-0042", "date_consented": "2026-11-24T17:40:00+01:00"}
    )
    _, qr_code = frontend.qr_code_jwt("S-0042")
    app = App(LINK_SECRET)

    shown = app.scan(qr_code["data"])
    status, body = app.establish_link()
    again = app.establish_link()

    assert shown == {"name": "Jane Roe", "birthdate": "1980-05-01"}
    assert app.claims["aud"] == study_server.url + "/"
    assert (status, body) == (204, b"")
    assert again[0] == 409  # ProfileManager: "409: already linked"
    subject = frontend.call("GET", "/subject/S-0042")["data"]
    assert subject["date_enrolled"] is not None
    enrolled = frontend.get_subjects(0, 51, "name", "ASC", status="enrolled")["data"]
    assert [s["sssid"] for s in enrolled] == ["S-0042"]
    actions = [
        (row["actor"], row["action"]) for row in frontend.get_audit_history("S-0042")["data"]
    ]
    assert (None, f"[Link] link to {app.user_id}") in actions
    link = frontend.get_subject_links("S-0042")["data"][0]
    assert (link["linked_to"], link["linked_system"]) == (app.user_id, DATA_SERVER)
    assert frontend.get_jwt_for_link(link["_id"]) == {
        "statusCode": 410,
        "errorMessage": "link is established already",
    }


@pytest.mark.filterwarnings("ignore::jwt.InsecureKeyLengthWarning")  # the original's example
def test_an_app_built_with_another_secret_cannot_read_the_link(study_server):
    frontend = Frontend(study_server, staff_token(study_server))
    frontend.new_subject({"sssid": "S-0042", "name": "Jane Roe", "bday": "1980-05-01", "email": ""})
    frontend.update_subject("S-0042", {"sssid": "S-0042", "date_consented": "2026-11-24"})
    _, qr_code = frontend.qr_code_jwt("S-0042")

    with pytest.raises(jwt.InvalidSignatureError):
        App("super-duper-secret").scan(qr_code["data"])
