"""Webhook v3 subscriptions and signed delivery for the PagerDuty sandbox."""
