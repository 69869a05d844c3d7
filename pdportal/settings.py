"""PD Portal settings, read from the environment (see README's configuration table)."""

from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from pdportal.env import env_bool, env_int, env_list, env_str, env_url, is_public_https

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        if len(key) < 50 and not DEBUG:
            raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters when DEBUG is off")
        return key
    # A first run on a fresh machine should just work: keep a generated key beside the code, never in git.
    path = BASE_DIR / ".secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
PORTAL_URL = env_url("PORTAL_URL", "http://127.0.0.1:8000")


# Webhooks need a PORTAL_URL that PagerDuty can reach; without one the portal registers no subscription and
# follows PagerDuty's log (reconcile) every 30 s instead. `on` forces them (the bundled sandbox reaches
# 127.0.0.1), `off` forbids them.
_webhooks = env_str("PAGERDUTY_WEBHOOKS", "auto").lower()
if _webhooks not in {"auto", "on", "off"}:
    raise ImproperlyConfigured(f"PAGERDUTY_WEBHOOKS must be auto, on or off, got {_webhooks!r}")
PAGERDUTY_WEBHOOKS = _webhooks == "on" or (_webhooks == "auto" and is_public_https(PORTAL_URL))
# How often reconcile reads /log_entries: the heal for missed webhooks, or the live feed when there are none
# (2 requests a minute when nothing changes, plus 4 per changed incident: far inside the 900/min budget).
RECONCILE_SECONDS = env_int("RECONCILE_SECONDS", 180 if PAGERDUTY_WEBHOOKS else 30, minimum=10)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [PORTAL_URL])

# HTTPS hardening is on whenever DEBUG is off, unless the operator says the portal is served over plain HTTP.
HTTPS = env_bool("HTTPS", not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY", False) else None
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^hooks/"]
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600, minimum=60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = False

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF, env_url("PAGERDUTY_OAUTH_URL", "https://identity.pagerduty.com")],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
}

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",  # the built-in form templates, found through TEMPLATES by PortalFormRenderer
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "pdportal",
    "accounts",
    "accounts.pagerduty",
    "services",
    "incidents",
    "console",
    "sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.SessionIdentityMiddleware",
    "accounts.middleware.TimezoneMiddleware",
    "accounts.middleware.ReauthenticationMiddleware",
    "pdportal.middleware.PagerDutyDeadlineMiddleware",
]

ROOT_URLCONF = "pdportal.urls"
FORM_RENDERER = "pdportal.web.PortalFormRenderer"
ASGI_APPLICATION = "pdportal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "pdportal.context_processors.portal",
                "accounts.roles.roles",
            ],
            # pdportal_time: `when`/`age`/`ago`, the one time format, in every template without a {% load %}.
            "builtins": [
                "django_htmx.templatetags.django_htmx",
                "pdportal.templatetags.pdportal_time",
                # pdportal_urls: `{% url %}` with its answers remembered per process (same output).
                "pdportal.templatetags.pdportal_urls",
            ],
        },
    }
]

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
if not DATABASE_URL.startswith(("sqlite:", "postgres://", "postgresql://")):
    raise ImproperlyConfigured(f"DATABASE_URL must be a sqlite:/// or postgres:// URL, got {DATABASE_URL!r}")
# CONN_MAX_AGE=0 under ASGI: a persistent connection would be pinned to one of many short-lived threads.
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_url("REDIS_URL", "", schemes=("redis", "rediss", "unix"))
CACHES = {
    "default": (
        # Falls back to a per-process memory cache while Redis is down, so sign-in (rate limits) keeps working.
        {"BACKEND": "pdportal.cache.ResilientRedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "pdportal"}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# PagerDuty: defaults are PagerDuty's US hosts; `make run` points them at the sandbox.
PAGERDUTY_API_URL = env_url("PAGERDUTY_API_URL", "https://api.pagerduty.com")
PAGERDUTY_EVENTS_URL = env_url("PAGERDUTY_EVENTS_URL", "https://events.pagerduty.com")
PAGERDUTY_OAUTH_URL = env_url("PAGERDUTY_OAUTH_URL", "https://identity.pagerduty.com")
PAGERDUTY_CLIENT_ID = env_str("PAGERDUTY_CLIENT_ID")
PAGERDUTY_CLIENT_SECRET = env_str("PAGERDUTY_CLIENT_SECRET")
PAGERDUTY_OAUTH_SCOPES = env_str("PAGERDUTY_OAUTH_SCOPES", "read write").split()
PAGERDUTY_API_TOKEN = env_str("PAGERDUTY_API_TOKEN")
# The PagerDuty account (acme in acme.pagerduty.com) whose people may sign in; unset: checked through the
# account connection instead.
PAGERDUTY_SUBDOMAIN = env_str("PAGERDUTY_SUBDOMAIN")
PAGERDUTY_DEBUG = env_bool("PAGERDUTY_DEBUG", False)
PAGERDUTY_WEBHOOK_SECRETS = env_list("PAGERDUTY_WEBHOOK_SECRETS")
# Who applies stored webhook events to the mirror: "thread" (a consumer thread in each web process, woken when
# an event is stored; the Celery sweep is the backup) or "sweep" (only the Celery sweep, every 30 s).
WEBHOOK_CONSUMER = env_str("WEBHOOK_CONSUMER", "thread")
# What pdportal/asgi.py serves at /hooks/pagerduty/ ahead of Django's stack, named like ROOT_URLCONF: the platform
# never imports the app that owns the receiver (layers point down).
WEBHOOK_RECEIVER = "incidents.webhooks.handle_delivery"
if WEBHOOK_CONSUMER not in ("thread", "sweep"):
    raise ImproperlyConfigured(f"WEBHOOK_CONSUMER must be thread or sweep, got {WEBHOOK_CONSUMER!r}")
PAGERDUTY_REQUESTS_PER_MINUTE = env_int("PAGERDUTY_REQUESTS_PER_MINUTE", 900, minimum=1, maximum=960)
PAGERDUTY_TIMEOUT = env_int("PAGERDUTY_TIMEOUT", 30, minimum=1)
# Every PagerDuty call made for one person's request shares this deadline, retries included; background tasks
# (sync, reconcile, refetch) have none and keep PAGERDUTY_TIMEOUT per attempt with their retries.
PAGERDUTY_REQUEST_DEADLINE = env_int("PAGERDUTY_REQUEST_DEADLINE", 8, minimum=1, maximum=300)
# A sync renews its lease every third of this; one whose worker died is taken over by the sync watchdog (every
# SYNC_WATCHDOG_SECONDS) once the lease lapses: within SYNC_LEASE_SECONDS + SYNC_WATCHDOG_SECONDS (the broker would
# redeliver only after an hour).
SYNC_LEASE_SECONDS = env_int("SYNC_LEASE_SECONDS", 120, minimum=1, maximum=3600)
SYNC_WATCHDOG_SECONDS = env_int("SYNC_WATCHDOG_SECONDS", 60, minimum=1, maximum=3600)
PAGERDUTY_SYNC_CONCURRENCY = env_int("PAGERDUTY_SYNC_CONCURRENCY", 8, minimum=1, maximum=32)

FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS")

# Live stream: a named `heartbeat` event every this many seconds; pages say "stale since" after two missed ones.
LIVE_HEARTBEAT_SECONDS = env_int("LIVE_HEARTBEAT_SECONDS", 15, minimum=1, maximum=15)

SANDBOX_PORT = env_int("SANDBOX_PORT", 8010, minimum=1, maximum=65535)
SANDBOX_API_TOKEN = env_str("SANDBOX_API_TOKEN", "sandbox-account-token")

# Celery: the broker is always Redis (real, or the embedded server `make run` starts).
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_timeout": 2, "socket_connect_timeout": 2}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "reconcile": {"task": "incidents.tasks.reconcile", "schedule": RECONCILE_SECONDS},
    "nightly-full-sync": {"task": "incidents.tasks.full_sync", "schedule": 24 * 3600},
    "sweep-webhook-events": {"task": "incidents.tasks.sweep_webhook_events", "schedule": 30},
    "sync-watchdog": {"task": "incidents.sync_watchdog.take_over_stalled_syncs", "schedule": SYNC_WATCHDOG_SECONDS},
    "settle-unknown-writes": {"task": "incidents.outcomes.settle_unknown_writes", "schedule": 60},
    "worker-heartbeat": {"task": "pdportal.tasks.heartbeat", "schedule": 30},
    "ensure-webhook-subscription": {"task": "services.tasks.ensure_webhook_subscription", "schedule": 3600},
    "check-pagerduty-connection": {"task": "accounts.tasks.check_connection", "schedule": 600},
    # Webhooks say nothing about team memberships, which decide what each person sees (SECURITY.md, "Visibility").
    "refresh-memberships": {
        "task": "incidents.tasks.refresh_memberships",
        "schedule": env_int("MEMBERSHIP_REFRESH_SECONDS", 900, minimum=60, maximum=900),
    },
    # Webhooks say nothing about schedules: on-calls are polled (README, "How fresh is on-call data").
    "refresh-oncalls": {
        "task": "services.tasks.refresh_oncalls",
        "schedule": env_int("ONCALL_REFRESH_SECONDS", 300, minimum=30),
    },
}

# allauth. Identity is a PagerDuty user id (DESIGN rule 7): a PagerDuty sign-in is bound to a portal user only through
# its SocialAccount (uid = PagerDuty user id), never through an email, so email authentication stays off and
# allauth manages no email addresses (accounts.pagerduty.provider gives it none).
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key", "login": "30/m/ip"}
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_STORE_TOKENS = False
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.adapter.SocialAccountAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_REQUIRED = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = False
SOCIALACCOUNT_PROVIDERS = {
    "pagerduty": {
        # accounts.adapter re-reads PAGERDUTY_CLIENT_ID/SECRET at request time; this is the documented shape.
        "APPS": [{"client_id": PAGERDUTY_CLIENT_ID, "secret": PAGERDUTY_CLIENT_SECRET}] if PAGERDUTY_CLIENT_ID else [],
        "SCOPE": PAGERDUTY_OAUTH_SCOPES,
        "OAUTH_PKCE_ENABLED": True,
        "EMAIL_AUTHENTICATION": False,
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "pdportal": {"level": "INFO"},
        "pdportal.pagerduty": {"level": "DEBUG" if PAGERDUTY_DEBUG else "INFO"},
    },
}
