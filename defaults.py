"""Every setting of the IDM service, with a safe default.

Override any of them in ``settings.py`` (copy ``settings.example.py``) or in
the file named by the ``IDM_SETTINGS`` environment variable; environment
variables prefixed with ``FLASK_`` (``FLASK_SECRET_KEY``,
``FLASK_SQLALCHEMY_DATABASE_URI``, ``FLASK_MAIL_PASSWORD``) override both.
"""

# --- Flask -----------------------------------------------------------------

# Signs sessions and CSRF tokens, and seals what is kept secret in the database
# (the private halves of the signing keys, queued emails). This value is
# public, so the service refuses to start with it outside development and tests.
SECRET_KEY = "insecure-development-key-change-me"

# Bodies larger than this are refused with 413 before they are parsed.
MAX_CONTENT_LENGTH = 64 * 1024

# --- Pages: the session cookie (Flask) --------------------------------------

# Send the cookie over HTTPS only. Set True whenever browsers reach the
# service through TLS (Nginx in front); False only for plain-HTTP development.
SESSION_COOKIE_SECURE = False
# Scripts cannot read the cookie, so an injected script cannot steal it.
SESSION_COOKIE_HTTPONLY = True
# Other sites cannot make the browser send it with their POSTs.
SESSION_COOKIE_SAMESITE = "Lax"
# Seconds a browser stays signed in to the pages, counted from sign-in, not
# from the last click (the absolute limit of a session, idm/page_sessions.py).
PERMANENT_SESSION_LIFETIME = 8 * 60 * 60
# Seconds without a page view after which a page session ends (the idle limit).
IDM_SESSION_IDLE_TIMEOUT = 30 * 60
# CSRF tokens (Flask-WTF) are bound to the session's secret, so they live as
# long as the session: a form left open for an hour still submits.
WTF_CSRF_TIME_LIMIT = None
# Pages send Referrer-Policy: no-referrer so a reset key in a URL never
# leaks; Flask-WTF's extra Referer check on HTTPS would then refuse every
# form. The CSRF token (bound to the session) and SameSite=Lax cookies are
# the protection; HSTS at Nginx keeps a network attacker from planting cookies.
WTF_CSRF_SSL_STRICT = False

# --- Database (Flask-SQLAlchemy) --------------------------------------------

# None means a SQLite file ``idm.sqlite`` in the instance folder.
# Production: "postgresql+psycopg://idm:secret@localhost/idm".
SQLALCHEMY_DATABASE_URI = None

# Extra SQLAlchemy engine options. On PostgreSQL the service adds
# pool_pre_ping=True unless set here: a pooled connection that the server
# closed (restart, idle timeout) is replaced before use instead of failing a
# request. SQLite has no server to lose, so it gets no ping (idm/__init__.py).
SQLALCHEMY_ENGINE_OPTIONS = {}

# --- Mail (Flask-Mail) ------------------------------------------------------

# None: in development (debug, tests) emails are written to the log instead
# of sent; otherwise they wait in the outbox (a reset link never goes into a
# production log) and /status says mail is unavailable.
MAIL_SERVER = None
MAIL_PORT = 25
MAIL_USE_TLS = False  # STARTTLS after connecting
MAIL_USE_SSL = False  # TLS from the first byte (usually port 465)
MAIL_USERNAME = None
MAIL_PASSWORD = None
MAIL_DEFAULT_SENDER = "IDM <idm@localhost>"

# --- Passwords --------------------------------------------------------------

# NIST SP 800-63B: at least 8 characters, no composition rules.
IDM_PASSWORD_MIN_LENGTH = 8
# Upper bound, so that hashing a huge password cannot be used for DoS.
IDM_PASSWORD_MAX_LENGTH = 256
# Werkzeug's generate_password_hash method. Tests use a cheap one; never
# lower it in production.
IDM_PASSWORD_HASH_METHOD = "scrypt"

# --- Access tokens (JWT) ----------------------------------------------------

# The algorithm new tokens are signed with. RS256, ES256 or EdDSA: a key pair
# of the service's own, kept in the database (private half sealed with a key
# derived from SECRET_KEY), published at /.well-known/jwks.json so resource
# servers verify tokens without any secret (docs/tokens.md). A change takes
# effect with the next key: `flask --app app keys rotate`. HS256, HS384 or
# HS512: HMAC with IDM_JWT_HMAC_SECRET, for deployments that want no public
# keys; then only holders of that secret (or introspection) can verify.
IDM_JWT_ALGORITHM = "RS256"
# The HMAC secret of HS256/HS384/HS512, never SECRET_KEY; at least 32
# characters. Keep it set for one access token lifetime after moving to a key
# pair, so the tokens it signed keep working until they expire.
IDM_JWT_HMAC_SECRET = None
IDM_JWT_ISSUER = "idm"
IDM_JWT_AUDIENCE = "idm"
# Seconds an access token lives.
IDM_ACCESS_TOKEN_LIFETIME = 15 * 60

# --- Signing keys -------------------------------------------------------------

# Seconds a new key is published in the JWKS before it signs, so that resource
# servers have fetched it before they meet a token it signed. The JWKS answer
# may be cached this long (Cache-Control: max-age).
IDM_KEY_PUBLISH_AHEAD = 3600
# Make a new key every this many days (whichever request first notices);
# 0: only `flask --app app keys rotate` does.
IDM_KEY_ROTATION_DAYS = 0
# Seconds a worker trusts its copy of the keys before reading them again; a
# key retired at once (`keys rotate --now`) is refused everywhere after this.
IDM_KEY_CACHE_SECONDS = 60

# --- Introspection (POST /auth/introspect, RFC 7662) -------------------------

# Resource servers that may ask whether a token is still active, besides
# admins with their token: {"client id": "sha256:<hex digest of its secret>"},
# sent as HTTP Basic credentials. `flask --app app keys client-secret` makes a
# secret and the line to put here; the secret itself is never stored.
IDM_INTROSPECTION_CLIENTS = {}

# --- Study links (the C3-PRO app) ------------------------------------------

# Signs and verifies the links that the study's mobile app scans (HS256): the
# secret the app is built with. Never SECRET_KEY: every copy of the app holds
# this one, so it must not be able to sign access tokens. Empty: in
# development (debug, tests) the public value "insecure-development-link-secret";
# otherwise creating a link, GET /link/<jti>/jwt and /establish answer 503
# until it is set. The service refuses to start with a publicly known value.
IDM_LINK_SECRET = ""
# Seconds a new link can be established; its "exp" is set when it is created.
IDM_LINK_LIFETIME = 24 * 60 * 60
# The links' "iss" and "aud" claims. None: IDM_PUBLIC_URL with a trailing "/"
# (the app posts to aud + "establish", so an audience must end with "/").
IDM_LINK_ISSUER = None
IDM_LINK_AUDIENCE = None

# --- Users API --------------------------------------------------------------

IDM_USERS_PER_PAGE = 20  # default page size of GET /users
IDM_USERS_MAX_PER_PAGE = 100  # largest page size a client may ask for

# --- Bootstrap --------------------------------------------------------------

# When True, POST /init also needs the one-time setup code that the service
# writes to its log at start-up (and `flask --app app init-code` prints), so
# an exposed fresh install cannot be taken over by whoever comes first.
IDM_INIT_REQUIRE_CODE = False

# --- Pages and emails -------------------------------------------------------

# The name people see in page titles and emails.
IDM_PRODUCT_NAME = "IDM"

# --- Reverse proxies --------------------------------------------------------

# How many reverse proxies (Nginx, a load balancer) stand in front of the
# service and set X-Forwarded-For/-Proto/-Host. 0 trusts no such header;
# behind one Nginx set 1. Client IPs (throttling, audit) and reset links
# depend on it.
IDM_PROXY_COUNT = 0

# --- Token lifecycle, brute-force protection, audit -----------------------

# Seconds after a password login during which POST /auth/refresh still hands
# out new tokens (the original login time travels in the token as auth_time).
# After that the client must log in with the password again.
IDM_REFRESH_LIMIT = 7 * 24 * 3600

# Failed logins are counted over this many seconds, per account and per IP.
IDM_LOGIN_WINDOW = 3600
# Failed logins for one username within the window before POST /auth
# answers 429; counted whether the account exists or not.
IDM_LOGIN_ACCOUNT_THRESHOLD = 5
# Failed logins from one client IP within the window before it is refused;
# higher, because many users may share one address (NAT, a proxy).
IDM_LOGIN_IP_THRESHOLD = 30
# POST /init attempts from one client IP within the window before it is refused.
IDM_INIT_IP_THRESHOLD = 10
# Seconds of the first lock; each further failure after it doubles the wait.
IDM_LOCKOUT_DELAY = 30
# The wait never grows beyond this many seconds.
IDM_LOCKOUT_MAX_DELAY = 15 * 60

# Days audit rows are kept; `flask --app app audit prune` deletes older ones.
IDM_AUDIT_RETENTION_DAYS = 365
IDM_AUDIT_PER_PAGE = 50  # default page size of GET /audit
IDM_AUDIT_MAX_PER_PAGE = 500  # largest page size a client may ask for

# --- Password reset and the mail outbox ---------------------------------------

# The service's address as people reach it, e.g. "https://idm.example.org"
# (with a path prefix if it has one). Reset links start with it. Outside
# development this or SERVER_NAME must be set, so that a forged Host header
# can never point a reset link at another site.
IDM_PUBLIC_URL = None
# Seconds a reset link stays usable.
IDM_RESET_TOKEN_LIFETIME = 2 * 60 * 60
# Reset emails per account and per client IP within one hour. Past the limit
# /iforgot shows the same page and sends nothing; the log says so.
IDM_RESET_MAX_PER_ACCOUNT_PER_HOUR = 3
IDM_RESET_MAX_PER_IP_PER_HOUR = 10
# Where people sign in (your web frontend); the page after a reset links there.
# None: the service's own sign-in page, /login.
IDM_SIGN_IN_URL = None
# Email subjects; "{product}" becomes IDM_PRODUCT_NAME.
IDM_RESET_MAIL_SUBJECT = "Reset your {product} password"
IDM_PASSWORD_CHANGED_MAIL_SUBJECT = "Your {product} password was changed"
# Deliver the outbox from a background thread in every service process.
# Set False when `flask --app app mail send --loop` runs under a supervisor.
IDM_MAIL_SENDER_THREAD = True
# Seconds between two looks of a sender at the outbox.
IDM_MAIL_POLL_SECONDS = 5
# After a failed attempt wait this long, doubling per attempt up to the maximum.
IDM_MAIL_RETRY_FIRST_SECONDS = 30
IDM_MAIL_RETRY_MAX_SECONDS = 30 * 60
# A message still undelivered after this many seconds is dropped (and logged).
IDM_MAIL_GIVE_UP_SECONDS = 24 * 60 * 60
# Seconds one SMTP network operation may take before the attempt fails.
IDM_MAIL_TIMEOUT = 30
# Seconds between two checks of the mail server (connect, EHLO, NOOP, QUIT),
# made by whichever sender's turn it is; /status reports the latest one.
# While a check failed or mail waits, every IDM_MAIL_POLL_SECONDS instead.
IDM_MAIL_CHECK_SECONDS = 60
# /status says mail is "unavailable" while an email has waited longer than
# this since it was queued, even if the server answers its checks.
IDM_MAIL_STUCK_SECONDS = 5 * 60
# Flask-Mail suppresses sending when TESTING; the tests run a real SMTP
# server, so never suppress (without MAIL_SERVER nothing is sent anyway).
MAIL_SUPPRESS_SEND = False

# --- Logs -------------------------------------------------------------------

# "text": one plain line per event; "json": one JSON object per line (time,
# level, logger, request_id, message, traceback), for a log collector.
IDM_LOG_FORMAT = "text"
# The least severe records written: DEBUG, INFO, WARNING, ERROR.
IDM_LOG_LEVEL = "INFO"
# A warning or error like one written less than this many seconds ago is
# counted, not written; the next one after it says how many were held back.
# 0 writes every one.
IDM_LOG_REPEAT_SECONDS = 60

# --- Metrics (GET /metrics, Prometheus) --------------------------------------

# Addresses (or networks) that may read /metrics without a token: a
# Prometheus on this host by default. Behind Nginx the address is the one
# IDM_PROXY_COUNT vouches for; the shipped Nginx site refuses /metrics.
IDM_METRICS_ALLOW_FROM = ["127.0.0.1/32", "::1/128"]
# A bearer token that opens /metrics from anywhere (Prometheus'
# authorization.credentials); None: only the addresses above.
IDM_METRICS_TOKEN = None
