"""django-allauth provider for signing in with PagerDuty (OAuth 2.0 with PKCE)."""
