"""Request bodies without a Content-Length are held to MAX_CONTENT_LENGTH too.

Why this exists: with ``Transfer-Encoding: chunked`` there is no length to
check up front. gunicorn then marks the input as terminated, and Werkzeug
reads it through a stream limited to MAX_CONTENT_LENGTH, which the way
Flask reads a body (JSON, forms) ends at the limit without an error: the
view got a silently shortened body (cut JSON, a form missing its end) and
processed it. This WSGI middleware, wrapped around
the app in create_app, reads such a body first, at most one byte past the
limit, and hands it on with its real Content-Length; a longer one gets a
Content-Length past the limit, so Werkzeug's own check answers 413 in the
usual error shape, before anything is parsed. Bodies with a Content-Length
are left to that same check, unread.
"""

import io


class ChunkedBodyLimit:
    def __init__(self, wsgi_app, config):
        self.wsgi_app = wsgi_app
        self.config = config

    def __call__(self, environ, start_response):
        limit = self.config["MAX_CONTENT_LENGTH"]
        if limit is not None and not environ.get("CONTENT_LENGTH") and is_chunked(environ):
            body = read_at_most(environ["wsgi.input"], limit + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            # Past the limit, the length says so and Werkzeug refuses it (413).
            environ["CONTENT_LENGTH"] = str(len(body))
            # Now a plain body of known length (Werkzeug ignores the length of
            # a chunked one).
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            environ.pop("wsgi.input_terminated", None)
        return self.wsgi_app(environ, start_response)


def is_chunked(environ):
    encoding = environ.get("HTTP_TRANSFER_ENCODING", "")
    return "chunked" in encoding.lower() or bool(environ.get("wsgi.input_terminated"))


def read_at_most(stream, size):
    parts, left = [], size
    while left > 0:
        part = stream.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)
