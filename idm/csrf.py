"""CSRF protection for the HTML forms (Flask-WTF).

Every POST to a page needs the session-bound token that the form carries.
The JSON API is exempt (idm/blueprints.py): it authenticates with bearer
tokens, which a browser never sends on its own, so there is nothing to forge.
"""

from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
