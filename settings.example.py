# Copy to settings.py (git-ignored) and adjust. Any key of defaults.py can be
# set here; this file is a plain Flask config file.

# Signs sessions and CSRF tokens, and seals the signing keys and queued
# emails in the database (access tokens have keys of their own). Outside
# development the service refuses to start with this placeholder, the
# built-in default, or any key shorter than 32 characters or obviously
# repetitive. Generate one and put it here:
#   python3 -c "import secrets; print(secrets.token_urlsafe(48))"
SECRET_KEY = "replace-me"

# Behind TLS (Nginx with HTTPS in front): the admin session cookie is then
# sent over HTTPS only.
# SESSION_COOKIE_SECURE = True

# SQLite file (default) or PostgreSQL:
# SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://idm:secret@localhost/idm"

# Required outside development (the service refuses to start without it or
# SERVER_NAME): the address people use to reach the service.
# Password-reset links start with it.
# IDM_PUBLIC_URL = "https://idm.example.org"

# Access tokens are signed with RS256 key pairs the service makes and rotates
# itself (docs/tokens.md); ES256 or EdDSA instead:
# IDM_JWT_ALGORITHM = "ES256"
# Make a new key every 90 days (0: only `flask --app app keys rotate`):
# IDM_KEY_ROTATION_DAYS = 90
# Resource servers that may ask POST /auth/introspect whether a token is
# still active; `flask --app app keys client-secret <id>` prints the line:
# IDM_INTROSPECTION_CLIENTS = {"reports-api": "sha256:..."}

# Outgoing mail; without MAIL_SERVER no email leaves (in development they are
# written to the log).
# MAIL_SERVER = "smtp.example.org"
# MAIL_PORT = 587
# MAIL_USE_TLS = True
# MAIL_USERNAME = "idm@example.org"
# MAIL_PASSWORD = "..."
# MAIL_DEFAULT_SENDER = "IDM <idm@example.org>"

# A C3-PRO study: the secret the study's mobile app is built with (HS256; it
# signs the links the app scans). Never SECRET_KEY; "super-duper-secret" and
# other publicly known values are refused outside development.
# IDM_LINK_SECRET = "..."

# Require the one-time setup code on /init until the first admin exists.
# IDM_INIT_REQUIRE_CODE = True

# Where people sign in with a new password (linked after a reset); unset,
# the service's own sign-in page.
# IDM_SIGN_IN_URL = "https://app.example.org/login"

# Mail is sent by a thread in every service process. To run the sender as
# its own process instead (`flask --app app mail send --loop`), set:
# IDM_MAIL_SENDER_THREAD = False
