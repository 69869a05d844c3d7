"""Settings of the sandbox project: its own database, no sessions, JSON errors like PagerDuty."""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("SANDBOX_SECRET_KEY", "sandbox-not-secret")
DEBUG = os.environ.get("SANDBOX_DEBUG", "") in {"1", "true", "yes"}
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "sandbox.api",
    "sandbox.identity",
    "sandbox.events",
    "sandbox.hooks",
]

# The knobs middleware (request log, latency, faults, rate limit, /_sandbox/) wraps everything, then
# PagerDuty-style error rendering, then authentication (which sets request.pd_actor).
MIDDLEWARE = [
    "sandbox.knobs.KnobsMiddleware",
    "sandbox.api.middleware.ApiErrorMiddleware",
    "sandbox.identity.middleware.PagerDutyAuthMiddleware",
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
# Public base URLs that appear in `self` and `html_url` (default: the URL the request came to; html_url under its
# /web/, where the sandbox serves an incident page, so the portal's "PagerDuty" link opens something real).
SANDBOX_BASE_URL = os.environ.get("SANDBOX_BASE_URL", "").rstrip("/")
SANDBOX_HTML_BASE_URL = os.environ.get("SANDBOX_HTML_BASE_URL", "").rstrip("/")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("SANDBOX_LOG_LEVEL", "WARNING")},
}
