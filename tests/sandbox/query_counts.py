"""Count the SQL queries of sandbox list endpoints in-process (run as a script by test_query_budget)."""

import json
import os
import sys

LISTS = [
    "/incidents?statuses[]=triggered&statuses[]=acknowledged&statuses[]=resolved&sort_by=created_at:desc",
    # Newest first, so both page sizes hold open, acknowledged and resolved incidents (prefetches of empty
    # relations are skipped, which would otherwise make the small page look cheaper).
    "/incidents?sort_by=created_at:desc&include[]=assignees&include[]=acknowledgers&include[]=services&include[]=teams"
    "&include[]=escalation_policies&include[]=priorities",
    "/log_entries?include[]=incidents&include[]=users&include[]=services&include[]=teams&include[]=channels",
    "/users?include[]=contact_methods&include[]=notification_rules&include[]=teams",
    "/services?include[]=integrations&include[]=teams&include[]=escalation_policies",
    "/change_events",
    "/notifications?since=2000-01-01T00:00:00Z&until=2000-03-01T00:00:00Z&include[]=users",
]


def _add_responder_requests():
    """Responder requests on the newest incidents, so their prefetches are part of the count."""
    from sandbox.api import domain, models

    users = list(models.User.objects.order_by("id")[:2])
    for incident in models.Incident.objects.order_by("-created_at")[:30]:
        domain.responder_request_create(actor=users[0], incident=incident, targets=users, message="help")


def main(db_path: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "sandbox.settings"
    os.environ["SANDBOX_DATABASE_URL"] = f"sqlite:///{db_path}"
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    _add_responder_requests()
    client = Client(HTTP_AUTHORIZATION=f"Token token={os.environ.get('SANDBOX_API_TOKEN', 'sandbox-account-token')}")
    counts = {}
    for url in LISTS:
        for limit in (20, 100):
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(f"{url}{'&' if '?' in url else '?'}limit={limit}")
            assert response.status_code == 200, response.content
            counts.setdefault(url, {})[limit] = len(ctx.captured_queries)
    print(json.dumps(counts))


if __name__ == "__main__":
    main(sys.argv[1])
