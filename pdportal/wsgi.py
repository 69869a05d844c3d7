"""WSGI entry point, for tools that want one; production serves ASGI (pdportal.asgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pdportal.settings")

application = get_wsgi_application()
