"""What resource servers read to verify tokens: the JWKS and the discovery document."""

from flask import current_app

from .. import clock, keys
from ..blueprints import ApiBlueprint
from ..reset import public_base_url

bp = ApiBlueprint("discovery", __name__)


def cache_for_publish_ahead():
    # A copy fetched just before a rotation expires before the new key signs.
    return {"Cache-Control": f"public, max-age={current_app.config['IDM_KEY_PUBLISH_AHEAD']}"}


@bp.get("/.well-known/jwks.json")
def jwks():
    """The public keys that verify tokens now or will soon; none with an HMAC secret."""
    if not keys.key_pairs_in_use():
        return {"keys": []}, 200, cache_for_publish_ahead()
    rows = keys.current_keys()  # the first key is made here if nothing signed yet
    return {"keys": keys.public_jwks(rows, clock.now())}, 200, cache_for_publish_ahead()


@bp.get("/.well-known/openid-configuration")
def configuration():
    """Where the keys, the token endpoint and introspection are (RFC 8414 names).

    The service issues access tokens, not OpenID Connect ID tokens, and its
    token endpoint takes JSON or HTTP Basic, not OAuth's grant forms; the
    algorithms are listed under ``id_token_signing_alg_values_supported``
    because that is where JWKS clients look for them.
    """
    config = current_app.config
    base = public_base_url()
    algorithms = {config["IDM_JWT_ALGORITHM"]}
    if keys.key_pairs_in_use():
        rows = keys.current_keys()
        algorithms |= {jwk["alg"] for jwk in keys.public_jwks(rows, clock.now())}
    document = {
        "issuer": config["IDM_JWT_ISSUER"],
        "jwks_uri": base + "/.well-known/jwks.json",
        "token_endpoint": base + "/auth",
        "introspection_endpoint": base + "/auth/introspect",
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": sorted(algorithms),
        "claims_supported": ["iss", "aud", "sub", "iat", "exp", "jti", "auth_time"],
    }
    return document, 200, cache_for_publish_ahead()
