"""HTTP(S) clients for the deployment tests: JSON calls, and a browser for the pages."""

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

from conftest import csrf_token


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer to look at, not to follow."""

    def redirect_request(self, *args, **kwargs):
        return None


def parse_json(raw):
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return raw.decode(errors="replace")


class Browser:
    """Cookies and CSRF tokens, as a person on the HTML pages over HTTPS."""

    def __init__(self, base_url, tls):
        self.base_url = base_url
        handlers = [urllib.request.HTTPCookieProcessor(CookieJar())]
        handlers.append(urllib.request.HTTPSHandler(context=tls))
        self.opener = urllib.request.build_opener(*handlers)

    def get(self, path_or_url):
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        return self.open(url)

    def submit(self, path, fields, page=None):
        """POST a form the way a browser would, with the CSRF token of *page*.

        No Referer, as browsers send none from our pages (no-referrer).
        """
        page = page if page is not None else self.get(path)[1]
        data = urllib.parse.urlencode({"csrf_token": csrf_token(page), **fields}).encode()
        return self.open(self.base_url + path, data)

    def open(self, url, data=None):
        request = urllib.request.Request(url, data=data)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


def reset_link(mail_text, public_url):
    """The https reset link in an email, as docs/api.md has /iforgot send it."""
    match = re.search(re.escape(public_url) + r"/reset\?k=[A-Za-z0-9_\-.%]+", mail_text)
    assert match, f"no {public_url}/reset?k=… link in the email:\n{mail_text}"
    return match.group(0)
