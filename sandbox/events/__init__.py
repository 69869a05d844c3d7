"""Events API v2 for the PagerDuty sandbox."""
