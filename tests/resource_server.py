"""A resource server, as another team would write one: it trusts the service's JWKS URL.

It holds nothing of the service but the JWKS address (and, for the route
that needs to know of a logout at once, the introspection address and a
client secret of its own). PyJWT's PyJWKClient fetches the key set over
HTTP and caches it for ``lifespan`` seconds, as resource servers do.

    GET /records          200 {"sub": …} for a token the JWKS verifies, else 401
    GET /records/strict   the same, and 401 unless introspection says "active"
"""

import base64
import json
import urllib.parse
import urllib.request

import jwt
from flask import Flask, request

ALGORITHMS = ["RS256", "ES256", "EdDSA"]


def create_resource_server(
    jwks_url, lifespan, issuer="idm", audience="idm", introspection=None, client=None
):
    """*introspection*: the URL of POST /auth/introspect; *client*: (id, secret)."""
    app = Flask("resource_server")
    keys = jwt.PyJWKClient(jwks_url, lifespan=lifespan)

    def verified_claims():
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            raise jwt.InvalidTokenError("no bearer token")
        key = keys.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "iat", "sub", "jti"]},
        )
        return token, claims

    @app.get("/records")
    def records():
        try:
            _, claims = verified_claims()
        except jwt.PyJWTError as error:
            return {"error": str(error)}, 401
        return {"sub": claims["sub"]}

    @app.get("/records/strict")
    def strict_records():
        try:
            token, claims = verified_claims()
        except jwt.PyJWTError as error:
            return {"error": str(error)}, 401
        answer = introspect(introspection, client, token)
        if not answer["active"]:
            return {"error": "the token is no longer active"}, 401
        return {"sub": claims["sub"], "admin": answer["admin"]}

    return app


def introspect(url, client, token):
    """RFC 7662 over HTTP, with HTTP Basic client credentials."""
    credentials = base64.b64encode(":".join(client).encode()).decode()
    request_ = urllib.request.Request(
        url,
        data=urllib.parse.urlencode({"token": token}).encode(),
        headers={"Authorization": "Basic " + credentials},
    )
    with urllib.request.urlopen(request_, timeout=10) as response:
        return json.load(response)
