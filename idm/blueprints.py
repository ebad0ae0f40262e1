"""The two kinds of blueprint: JSON API and HTML pages.

What differs between them is decided here, once, by the kind a view module
creates, not by lists of paths:

* errors: JSON in the one error shape, or an error page (idm/errors.py);
* CSRF: pages' forms need the token; the API authenticates with bearer
  tokens, which browsers never send by themselves, so it is exempt;
* query strings: the API refuses parameters a view does not declare.
"""

from flask import Blueprint

from .csrf import csrf
from .requests import refuse_unknown_query_parameters


class ApiBlueprint(Blueprint):
    """JSON routes: errors as JSON, no CSRF, unknown query parameters refused."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.before_request(refuse_unknown_query_parameters)

    def register(self, app, options):
        csrf.exempt(self)
        super().register(app, options)


class PageBlueprint(Blueprint):
    """HTML pages: errors as pages, CSRF-protected forms."""
