"""Services, escalation policies and webhook subscriptions."""
