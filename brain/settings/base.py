"""Brain settings: every value comes from the environment, with safe development defaults.

Brain runs on PostgreSQL and Redis in every configuration: `DATABASE_URL` and `REDIS_URL` are
required. `make run` sets them to servers embedded from pip wheels (brain/embedded.py).
"""

from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from redis import ConnectionPool

from brain.cache_breaker import BreakerConnection, SentinelBreakerConnection
from brain.db.pool import check_connection as check_pooled_connection

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
# The key `make run` generates: project commands run from the clone without exporting it.
SECRET_KEY_FILE = Path(env.str("SECRET_KEY_FILE", default=str(VAR_DIR / "secret-key")))
if not SECRET_KEY and SECRET_KEY_FILE.is_file():
    SECRET_KEY = SECRET_KEY_FILE.read_text().strip()
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off: set the SECRET_KEY environment variable "
            f"or write one to {SECRET_KEY_FILE} (`make run` generates it), or set DEBUG=1 for "
            "local development."
        )
    SECRET_KEY = "insecure-development-key-used-only-with-DEBUG"
if SECRET_KEY == "change-me":
    raise ImproperlyConfigured(
        "SECRET_KEY is still the placeholder of .env.example: set a long random value."
    )

# The Ed25519 key that signs the audit log's checkpoints (audit/signing.py): base64 of 32 raw
# bytes, or PEM. Unset, a key is generated once in AUDIT_SIGNING_KEY_FILE; set one in production,
# the same for every process, and keep it out of the database and its backups.
AUDIT_SIGNING_KEY = env.str("AUDIT_SIGNING_KEY", default="")
AUDIT_SIGNING_KEY_FILE = Path(
    env.str("AUDIT_SIGNING_KEY_FILE", default=str(VAR_DIR / "audit-signing-key"))
)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# How many reverse proxies in front of Brain append to X-Forwarded-For; 0 trusts none of it.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# The Content-Security-Policy of every response (the admin, the browsable API, the API docs): all
# from Brain itself; scripts from files only, or inline with the response's nonce
# (`{% csp_nonce_attr %}`), never `'unsafe-inline'`. Styles may be inline: the admin's, DRF's and
# the docs' pages set style attributes, and ReDoc adds its styles at run time; CSS runs no code.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    # ReDoc runs its search in a worker it builds from a blob.
    "worker-src": [CSP.SELF, "blob:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# HTTPS behind a proxy that terminates TLS; off by default for `make run` on plain HTTP.
# `manage.py check --deploy` is clean with the production values of .env.example.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
# "HTTP_X_FORWARDED_PROTO,https": the header the TLS proxy sets, and its value for HTTPS.
SECURE_PROXY_SSL_HEADER = (
    tuple(env.list("SECURE_PROXY_SSL_HEADER")) if env.str("SECURE_PROXY_SSL_HEADER", "") else None
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # PostgreSQL's index classes in migrations (events 0003); inert on other databases.
    "django.contrib.postgres",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "brain",
    "audit",
    "events",
    "scheduling",
]

MIDDLEWARE = [
    "brain.middleware.RequestLogMiddleware",
    "brain.middleware.BodySizeLimitMiddleware",
    "brain.middleware.OptionalTrailingSlashMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "brain.middleware.AuditContextMiddleware",
    "brain.middleware.ReplicaMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "brain.urls"
WSGI_APPLICATION = "brain.wsgi.application"
ASGI_APPLICATION = "brain.asgi.application"
# The API's paths have no trailing slash; OptionalTrailingSlashMiddleware accepts both, so
# nothing is ever redirected (a redirected POST would lose its body).
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Project templates first: they override third-party ones (the offline ReDoc page).
        "DIRS": [BASE_DIR / "brain" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
            ],
        },
    },
]

# Database: PostgreSQL through psycopg 3 and Django's native pool.
EMBEDDED = "`make run` sets it to a server embedded from a pip wheel (brain/embedded.py)"
if not env.str("DATABASE_URL", default=""):
    raise ImproperlyConfigured(
        "DATABASE_URL is required: the URL of a PostgreSQL database "
        f"(postgres://user:password@host:5432/brain); {EMBEDDED}."
    )
# Seconds a statement may run before PostgreSQL cancels it (0: no limit). The web server sets
# it (brain/gunicorn.conf.py), so a request stuck on a lock or a runaway query answers 503
# instead of holding its worker until gunicorn kills it.
statement_timeout = env.float("DATABASE_STATEMENT_TIMEOUT", default=0)


def _database(url, name):
    """The settings of the PostgreSQL database at `url` (from the variable `name`): Django's
    psycopg pool, a connect timeout and the statement timeout. The primary and every replica get
    the same."""
    try:
        database = env.db_url_config(url) if urlsplit(url).scheme in env.DB_SCHEMES else {}
    except ValueError:  # a port that is not a number from 0 to 65535
        database = {}
    if database.get("ENGINE") != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            f"{name} must be a PostgreSQL URL: postgres://user:password@host:5432/brain."
        )
    database["CONN_MAX_AGE"] = 0  # the pool keeps connections, not Django
    database["CONN_HEALTH_CHECKS"] = True
    options = database.setdefault("OPTIONS", {})
    # Fail fast when PostgreSQL is unreachable: a request waits at most the pool timeout for a
    # connection (then 503), and a new connection at most connect_timeout (libpq's minimum, 2 s).
    options.setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=2))
    if statement_timeout > 0:
        options["options"] = (
            f"{options.get('options', '')} -c statement_timeout={round(statement_timeout * 1000)}"
        ).strip()
    options["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=10),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=1.5),
        # Retry a lost connection for a second, then leave it to the next request to ask for a
        # new one: a longer back-off would keep refusing requests after PostgreSQL is back.
        "reconnect_timeout": 1.0,
        # A connection the server hung up on is replaced at checkout (brain.db.pool).
        "check": check_pooled_connection,
    }
    return database


DATABASES = {"default": _database(env.str("DATABASE_URL"), "DATABASE_URL")}
# Streaming replicas of the primary (brain.db.replicas): a request that may read from one is
# given one of them, chosen at random. In tests each mirrors the primary's test database.
DATABASE_REPLICAS = []
for number, url in enumerate(env.list("DATABASE_REPLICA_URLS", default=[]), start=1):
    replica = _database(url, "Each of DATABASE_REPLICA_URLS")
    DATABASES[f"replica{number}"] = {**replica, "TEST": {"MIRROR": "default"}}
    DATABASE_REPLICAS.append(f"replica{number}")
# The apps whose rows a replica may serve. Users, tokens, sessions and the cache's pending
# invalidations are always read from the primary: a new token or session works at once.
DATABASE_REPLICA_APPS = ["events", "scheduling", "audit"]
# Seconds a client's reads stay on the primary after it wrote: longer than the replicas' lag.
REPLICA_PIN_SECONDS = env.int("REPLICA_PIN_SECONDS", default=15)
DATABASE_ROUTERS = ["brain.db.replicas.ReplicaRouter"]
# Seconds a statement of an API read (GET, HEAD, OPTIONS) may run (0: no limit of its own),
# never more than DATABASE_STATEMENT_TIMEOUT: a read PostgreSQL cancels answers 503, and a
# worker is soon free for other users (brain.api.views.ReadStatementTimeoutMixin).
API_READ_STATEMENT_TIMEOUT = env.float("API_READ_STATEMENT_TIMEOUT", default=3)
if API_READ_STATEMENT_TIMEOUT > 0 and statement_timeout > 0:
    API_READ_STATEMENT_TIMEOUT = min(API_READ_STATEMENT_TIMEOUT, statement_timeout)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: django-redis; a Redis outage is a miss, never an error.
REDIS_URL = env.str("REDIS_URL", default="")
if not REDIS_URL:
    raise ImproperlyConfigured(
        f"REDIS_URL is required: the URL of a Redis database (redis://host:6379/0); {EMBEDDED}."
    )
try:
    ConnectionPool.from_url(REDIS_URL)  # reads the URL as redis-py does; connects to nothing
except ValueError:
    raise ImproperlyConfigured(
        "REDIS_URL must be a Redis URL: redis://host:6379/0 (rediss:// for TLS)."
    ) from None


def _sentinel_address(value):
    host, _, port = value.strip().rpartition(":")
    if not host or not port.isdigit():
        raise ImproperlyConfigured(
            f"REDIS_SENTINELS: {value!r} is not host:port (a comma-separated list of them)."
        )
    return (host.strip("[]"), int(port))


# Redis Sentinel, as django-redis runs it: REDIS_URL's host is then the name of the master that
# the Sentinels watch (redis://:password@brain/0), and every use of Redis follows its failovers.
# Every command goes to the master: a replica may not yet hold a write's invalidation.
REDIS_SENTINELS = [_sentinel_address(value) for value in env.list("REDIS_SENTINELS", default=[])]
# Replicas that must acknowledge a write's cache invalidation (Redis's WAIT) before it counts as
# done; one that is not acknowledged within REDIS_WAIT_MILLISECONDS is kept for a drain
# (brain.invalidation), so a failover cannot lose it. 1 with Sentinel, else 0.
REDIS_WAIT_REPLICAS = env.int("REDIS_WAIT_REPLICAS", default=1 if REDIS_SENTINELS else 0)
REDIS_WAIT_MILLISECONDS = env.int("REDIS_WAIT_MILLISECONDS", default=100)
REDIS_CONNECT_TIMEOUT = env.float("REDIS_CONNECT_TIMEOUT", default=0.25)
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.25)
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="brain"),
        "KEY_FUNCTION": "brain.cache.make_key",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "IGNORE_EXCEPTIONS": True,
            "SOCKET_CONNECT_TIMEOUT": REDIS_CONNECT_TIMEOUT,
            "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            # After a failure, calls fail at once for a second, then one probes again.
            "CONNECTION_POOL_KWARGS": {"connection_class": BreakerConnection},
        },
    }
}
if REDIS_SENTINELS:
    CACHES["default"]["OPTIONS"].update(
        {
            "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
            "SENTINELS": REDIS_SENTINELS,
            "CONNECTION_POOL_KWARGS": {"connection_class": SentinelBreakerConnection},
        }
    )
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "brain.cache"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# The admin shows times to the second, ISO-like (brain/formats/en/formats.py).
FORMAT_MODULE_PATH = ["brain.formats"]

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Request bodies larger than this get a JSON 413 before any view reads them.
REQUEST_MAX_BODY_BYTES = env.int("REQUEST_MAX_BODY_BYTES", default=5 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BODY_BYTES
# NDJSON bodies (`POST /api/events/bulk`, up to 100,000 events) have a limit of their own.
REQUEST_MAX_NDJSON_BYTES = env.int("REQUEST_MAX_NDJSON_BYTES", default=64 * 1024 * 1024)
# Heavy requests (bulk ingest, filtered statistics) one user may have in flight at once; past it
# a 429 with Retry-After (brain.api.heavy; 0: no limit). Below the web workers (WEB_CONCURRENCY),
# so that one user cannot hold them all.
API_HEAVY_REQUESTS_PER_USER = env.int("API_HEAVY_REQUESTS_PER_USER", default=1)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "brain.api.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "brain.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "brain.api.filters.OrderingFilter",
    ],
    # Request bodies are JSON only (415 otherwise): one validation path, with JSON's types.
    "DEFAULT_PARSER_CLASSES": ["brain.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "brain.api.renderers.JSONRenderer",
        "brain.api.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "brain.api.throttling.AnonRateThrottle",
        "brain.api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_RATE_ANON", default="60/min"),
        "user": env.str("THROTTLE_RATE_USER", default="6000/min"),
        # Token lookups that matched no token, per client address (brain.api.authentication).
        "failed_token": env.str("THROTTLE_RATE_FAILED_TOKEN", default="20/min"),
    },
    # A `format` none of a view's renderers has is a 400 naming it (DRF: a 404).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "brain.api.query.ContentNegotiation",
    "EXCEPTION_HANDLER": "brain.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "brain.api.schema.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# Failed logins, at the admin and POST /api/auth/token together (brain.login_failures): per
# username from a client address, and per client address for any username; past either, 429.
THROTTLE_RATE_FAILED_LOGIN_USERNAME_ADDRESS = env.str(
    "THROTTLE_RATE_FAILED_LOGIN_USERNAME_ADDRESS", default="10/hour"
)
THROTTLE_RATE_FAILED_LOGIN_ADDRESS = env.str(
    "THROTTLE_RATE_FAILED_LOGIN_ADDRESS", default="30/hour"
)
# Agent types beyond the built-in roles (scheduling.agent_types), comma-separated.
BRAIN_AGENT_TYPES = env.list("BRAIN_AGENT_TYPES", default=[])


def _positive_int(name, default, most=2**31 - 1, least=1):
    """The environment's integer `name`, refused unless within least..most (by default 1 to a
    PostgreSQL integer's largest)."""
    value = env.int(name, default=default)
    if not least <= value <= most:
        raise ImproperlyConfigured(
            f"{name} must be an integer from {least} to {most}; got {value}."
        )
    return value


# The scheduler's fair share (docs/scheduler.md). The longest timeout a task may have: a run
# holds a scheduler slot, and a dead worker's lease, for at most this plus the lease margin.
TASK_MAX_TIMEOUT_SECONDS = _positive_int("TASK_MAX_TIMEOUT_SECONDS", 3600)
# Most tasks one user may own, and most of one user's tasks running at once in all schedulers
# together: below run_scheduler's --batch-size (10), so no user holds every slot of a worker.
TASKS_MAX_PER_USER = _positive_int("TASKS_MAX_PER_USER", 1000)
TASKS_MAX_RUNNING_PER_USER = _positive_int("TASKS_MAX_RUNNING_PER_USER", 5)

# The window an event's time must lie in (events.schemas): how far back a backfill (an import, a
# late bulk) may reach, a year by default so last year's logs can be loaded; and how far ahead of
# the server's clock a client's clock may run, 5 minutes by default (Kerberos' clock-skew
# tolerance). Outside it the event is refused with a 400: a time in year 1 or 9999 would head
# every list and the statistics' first and last seen for good.
EVENT_TIME_MAX_AGE_DAYS = _positive_int("EVENT_TIME_MAX_AGE_DAYS", 365, most=36_500)
EVENT_TIME_MAX_DRIFT_SECONDS = _positive_int(
    "EVENT_TIME_MAX_DRIFT_SECONDS", 300, most=86_400, least=0
)


def _positive_seconds(name, default):
    value = env.float(name, default=default)
    if not value > 0:
        raise ImproperlyConfigured(f"{name} must be a number of seconds above 0; got {value}.")
    return value


# How often each scheduler records its heartbeat (its last loop and the due tasks waiting), and
# how long without one before a scheduler shows as unhealthy and an error event says so.
SCHEDULER_HEARTBEAT_SECONDS = _positive_seconds("SCHEDULER_HEARTBEAT_SECONDS", 5.0)
SCHEDULER_STALE_AFTER_SECONDS = _positive_seconds("SCHEDULER_STALE_AFTER_SECONDS", 60.0)
# How often each running scheduler seals the audit log (one scheduler at a time seals).
AUDIT_SEAL_INTERVAL_SECONDS = _positive_seconds("AUDIT_SEAL_INTERVAL_SECONDS", 1.0)

# The live events stream (/ws/events): messages one socket may have waiting before it is told to
# resume and closed, and hours a change stays in the log a client may resume from.
EVENT_STREAM_BUFFER = _positive_int("EVENT_STREAM_BUFFER", 10_000)
EVENT_STREAM_RETENTION_HOURS = _positive_int("EVENT_STREAM_RETENTION_HOURS", 24)
# Days after which `manage.py partitions` (and its scheduled skill) purges events and audit
# records, dropping whole partitions; 0 keeps them.
EVENT_RETENTION_DAYS = _positive_int("EVENT_RETENTION_DAYS", 0, most=36_500, least=0)
AUDIT_RETENTION_DAYS = _positive_int("AUDIT_RETENTION_DAYS", 0, most=36_500, least=0)

# Seconds a token-to-user lookup is cached (invalidated when the token or its user changes).
TOKEN_CACHE_TTL = env.int("TOKEN_CACHE_TTL", default=300)
# Seconds an API token lives when its request names no `expires_in`, and the most it may name
# (at most a year, brain.tokens.TOKEN_MAX_SECONDS); unset, a token lives until it is revoked
# unless it asks for less.
TOKEN_TTL = (
    _positive_int("TOKEN_TTL", 1, most=365 * 24 * 3600) if env.str("TOKEN_TTL", "") else None
)

SPECTACULAR_SETTINGS = {
    "TITLE": "Brain API",
    "DESCRIPTION": (
        "System of record for the AI-operations dashboard: events, scheduling, audit.\n\n"
        "Write contract: request bodies are JSON (anything else is a 415). A field the endpoint "
        "does not take, or a read-only one, is a 400 naming it; so is a value of another JSON "
        'type than the field\'s (0 or true for a string, "5" or 5.0 for an integer). A query '
        "parameter the operation does not document, or an empty one (`?limit=`), is a 400 "
        "naming it. Every value has a bound (a text's length, a JSON value's size and depth, an "
        "event's time within a window around the server's clock, an integer's range): beyond it "
        "is a 400 naming the field and the bound, and nothing is stored."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "brain.api.schema.state_the_write_contract",
        "brain.api.schema_errors.state_the_errors",
        "brain.api.schema.state_the_response_fields",
    ],
    # Several models have a `status`: name each choice set after its model's.
    "ENUM_NAME_OVERRIDES": {
        "TaskStatusEnum": "scheduling.models.TaskStatus",
        "AgentStatusEnum": "scheduling.models.AgentStatus",
        "ExecutionStatusEnum": "scheduling.models.ExecutionStatus",
        "SeverityEnum": "events.models.Severity.values",
        "CheckpointKindEnum": "audit.models.CheckpointKind",
        "TokenScopeEnum": "brain.models.TokenScope",
    },
}

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "brain.logging.JsonFormatter"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # RequestLogMiddleware writes the one line per request; Django's own logger adds the
        # 5xx, with the traceback and the request id (brain.logging).
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
    },
}

LOGIN_URL = "admin:login"
