"""JSON shape of a webhook subscription (the secret appears only in the create response)."""

from sandbox.hooks.models import WebhookSubscription


def subscription_json(sub: WebhookSubscription, *, reveal_secret: bool = False) -> dict:
    fil = {"type": sub.filter_type}
    if sub.filter_type != "account_reference":
        fil["id"] = sub.filter_id
    return {
        "id": sub.id,
        "type": "webhook_subscription",
        "active": sub.active,
        "delivery_method": {
            "id": sub.delivery_method_id,
            "secret": sub.secret if reveal_secret else None,
            "temporarily_disabled": sub.temporarily_disabled,
            "type": "http_delivery_method",
            "url": sub.url,
            "custom_headers": [
                {"name": h["name"], "value": h["value"] if reveal_secret else "-- redacted --"}
                for h in (sub.custom_headers or [])
            ],
        },
        "description": sub.description,
        "events": list(sub.events or []),
        "filter": fil,
    }
