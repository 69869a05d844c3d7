"""docker-compose.yml parses, has every service with health checks, and its env names are real settings."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SETTINGS_SOURCE = (ROOT / "pdportal" / "settings.py").read_text()


def test_it_defines_the_six_services():
    assert set(COMPOSE["services"]) == {"postgres", "redis", "migrate", "web", "worker", "beat"}


def test_long_running_infrastructure_has_health_checks():
    for name in ("postgres", "redis", "web", "worker"):
        assert "healthcheck" in COMPOSE["services"][name], name


def test_portal_services_wait_for_migrate_and_their_backends():
    services = COMPOSE["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_every_env_name_is_read_by_settings():
    read = set(re.findall(r'env_(?:str|bool|int|list|url)\(\s*"([A-Z_]+)"', SETTINGS_SOURCE))
    for name in ("migrate", "web", "worker", "beat"):
        environment = COMPOSE["services"][name]["environment"]
        unknown = set(environment) - read
        assert not unknown, f"{name} sets variables settings.py never reads: {unknown}"


def test_the_contract_env_names_are_wired():
    environment = COMPOSE["services"]["web"]["environment"]
    for name in (
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "DEBUG",
        "ALLOWED_HOSTS",
        "PORTAL_URL",
        "FIELD_ENCRYPTION_KEYS",
        "PAGERDUTY_API_URL",
        "PAGERDUTY_EVENTS_URL",
        "PAGERDUTY_OAUTH_URL",
        "PAGERDUTY_CLIENT_ID",
        "PAGERDUTY_CLIENT_SECRET",
        "PAGERDUTY_OAUTH_SCOPES",
        "PAGERDUTY_API_TOKEN",
        "PAGERDUTY_DEBUG",
        "PAGERDUTY_WEBHOOK_SECRETS",
    ):
        assert name in environment, name
    assert environment["DATABASE_URL"].startswith("postgres://")
    assert environment["REDIS_URL"].startswith("redis://redis:")


def test_web_serves_asgi_with_uvicorn():
    command = COMPOSE["services"]["web"]["command"]
    assert command[:2] == ["uvicorn", "pdportal.asgi:application"]
