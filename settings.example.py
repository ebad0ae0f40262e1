# Copy to settings.py (git-ignored) and adjust. Any key of defaults.py can be
# set here; this file is a plain Flask config file.

# Generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))"
SECRET_KEY = "replace-me"

# Behind TLS (Nginx with HTTPS in front): the admin session cookie is then
# sent over HTTPS only.
# SESSION_COOKIE_SECURE = True

# SQLite file (default) or PostgreSQL:
# SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://idm:secret@localhost/idm"

# Outgoing mail; without MAIL_SERVER emails are written to the log.
# MAIL_SERVER = "smtp.example.org"
# MAIL_PORT = 587
# MAIL_USE_TLS = True
# MAIL_USERNAME = "idm@example.org"
# MAIL_PASSWORD = "..."
# MAIL_DEFAULT_SENDER = "IDM <idm@example.org>"

# Require the one-time setup code on /init until the first admin exists.
# IDM_INIT_REQUIRE_CODE = True
