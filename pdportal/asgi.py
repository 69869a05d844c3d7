"""ASGI entry point: uvicorn serves the portal, including the async SSE stream at /live/."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pdportal.settings")

application = get_asgi_application()
