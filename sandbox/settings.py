"""Settings of the sandbox project: its own database, no sessions, JSON errors like PagerDuty."""

import importlib.util
import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("SANDBOX_SECRET_KEY", "sandbox-not-secret")
DEBUG = os.environ.get("SANDBOX_DEBUG", "") in {"1", "true", "yes"}
ALLOWED_HOSTS = ["*"]

# Edge's apps are listed only once their packages exist, so the sandbox keeps booting while they are built.
_OPTIONAL_APPS = ["sandbox.identity", "sandbox.events", "sandbox.hooks"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "sandbox.api",
    *[app for app in _OPTIONAL_APPS if importlib.util.find_spec(app) is not None],
]


def _module_has(path):
    module, _, _attr = path.rpartition(".")
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


# The knobs middleware (request log, latency, faults, rate limit) wraps everything, then errors, then auth.
MIDDLEWARE = [
    m
    for m in [
        "sandbox.knobs.KnobsMiddleware",
        "sandbox.api.middleware.ApiErrorMiddleware",
        "sandbox.identity.middleware.PagerDutyAuthMiddleware",
    ]
    if _module_has(m)
]

ROOT_URLCONF = "sandbox.urls"
WSGI_APPLICATION = "sandbox.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("SANDBOX_DATABASE_URL") or f"sqlite:///{BASE_DIR / 'sandbox.sqlite3'}",
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL and a busy timeout let the threaded server write while other threads read.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"

SANDBOX_API_TOKEN = os.environ.get("SANDBOX_API_TOKEN", "sandbox-account-token")
# Public base URLs that appear in `self` and `html_url`; the portal never follows html_url.
SANDBOX_BASE_URL = os.environ.get("SANDBOX_BASE_URL", "").rstrip("/")
SANDBOX_HTML_BASE_URL = os.environ.get("SANDBOX_HTML_BASE_URL", "https://sandbox.pagerduty.com").rstrip("/")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("SANDBOX_LOG_LEVEL", "WARNING")},
}
