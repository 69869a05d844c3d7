"""`manage.py sandbox`: run the PagerDuty sandbox as its own process with its own settings and database."""

import os
import sys
from pathlib import Path

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the PagerDuty sandbox (options: --port --host --db --seed --size --latency-ms --simulate ...)."

    def run_from_argv(self, argv):
        # The sandbox is a separate Django project: replace this process with one on sandbox.settings.
        root = str(Path(__file__).resolve().parents[3])
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sandbox.settings", "PYTHONPATH": path}
        args = [sys.executable, "-m", "sandbox", *argv[2:]]
        os.execve(sys.executable, args, env)  # noqa: S606 - argv list, no shell

    def handle(self, *args, **options):  # pragma: no cover - call_command path
        from sandbox.server import main

        main([])
