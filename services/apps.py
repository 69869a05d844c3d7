"""App config for services."""

from django.apps import AppConfig


class ServicesConfig(AppConfig):
    name = "services"
