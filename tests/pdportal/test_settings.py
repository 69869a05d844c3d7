"""Settings come from the environment through typed helpers that fail loudly."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from pdportal.env import env_bool, env_int, env_list, env_url

ROOT = Path(__file__).resolve().parents[2]


def test_it_reads_booleans_in_every_usual_spelling():
    assert env_bool("X", environ={"X": "yes"}) is True
    assert env_bool("X", environ={"X": "0"}) is False
    assert env_bool("X", True, environ={}) is True


def test_it_names_the_variable_when_a_boolean_is_bad():
    with pytest.raises(ImproperlyConfigured, match="DEBUG must be a boolean"):
        env_bool("DEBUG", environ={"DEBUG": "maybe"})


def test_it_names_the_variable_when_a_number_is_bad_or_out_of_range():
    with pytest.raises(ImproperlyConfigured, match="PORT must be a whole number"):
        env_int("PORT", 1, environ={"PORT": "eighty"})
    with pytest.raises(ImproperlyConfigured, match="PORT must be at most 65535"):
        env_int("PORT", 1, maximum=65535, environ={"PORT": "70000"})


def test_it_rejects_a_url_without_a_scheme():
    with pytest.raises(ImproperlyConfigured, match="PAGERDUTY_API_URL must be a URL"):
        env_url("PAGERDUTY_API_URL", environ={"PAGERDUTY_API_URL": "api.pagerduty.com"})
    assert env_url("U", environ={"U": "https://api.pagerduty.com/"}) == "https://api.pagerduty.com"


def test_it_splits_comma_lists():
    assert env_list("K", environ={"K": "a, b,,c"}) == ["a", "b", "c"]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PDPORTAL_"))}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120
    )


def test_a_bad_value_stops_start_up_naming_the_variable():
    result = _manage("check", DEBUG="perhaps")
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_a_bad_database_url_stops_start_up():
    result = _manage("check", DATABASE_URL="mysql://x")
    assert result.returncode != 0
    assert "DATABASE_URL must be" in result.stderr


def _deploy_check(*, redis_url: str) -> subprocess.CompletedProcess:
    """`check --deploy` as production runs it (DEBUG off, a real key and host), failing on warnings too."""
    return _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="x" * 20 + "-deploy-check-key-that-is-long-enough-1234567890",
        ALLOWED_HOSTS="portal.example.com",
        REDIS_URL=redis_url,
    )


def test_check_deploy_is_clean_with_debug_off():
    result = _deploy_check(redis_url="redis://127.0.0.1:6379/0")
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_warns_when_redis_is_not_configured():
    result = _deploy_check(redis_url="")
    assert result.returncode != 0
    assert "pdportal.W001" in result.stderr and "REDIS_URL is unset" in result.stderr


def test_postgres_url_selects_psycopg():
    result = _manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.db import connection; print(connection.vendor, connection.settings_dict['CONN_MAX_AGE'])",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/whatever",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["postgresql", "0"]
