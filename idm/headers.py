"""Security headers on every response, set in one after_request hook.

One place for every page (/init, /iforgot, /reset, /admin…) and every JSON
answer, so a new page cannot forget them.
"""

from flask import request

# Pages load only their own stylesheet; nothing inline, nothing from elsewhere.
# An injected <script> or style attribute does not run, a form cannot post to
# another site, a <base> tag cannot redirect links, and no site can frame us
# (clickjacking on the admin buttons).
PAGE_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# JSON is data, never a document: nothing may load or frame it.
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"


def add_security_headers(response):
    headers = response.headers
    # Browsers must not guess a type: JSON is never run as HTML or script.
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # A reset key in /reset?k=… must never leave in a Referer header, not
    # even to our own log files. (So Flask-WTF's Referer check on HTTPS is
    # off: WTF_CSRF_SSL_STRICT in defaults.py says why that is safe.)
    headers.setdefault("Referrer-Policy", "no-referrer")
    if response.mimetype == "text/html":
        headers.setdefault("Content-Security-Policy", PAGE_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")  # frame-ancestors for old browsers
    else:
        headers.setdefault("Content-Security-Policy", DATA_POLICY)
    if not request.path.startswith("/static/"):
        # Pages show user data and keys, answers carry tokens: no shared or
        # back-button cache may keep them. The stylesheet may be cached.
        headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app):
    app.after_request(add_security_headers)
