"""API keys, OAuth 2.0 and request authentication for the PagerDuty sandbox."""
