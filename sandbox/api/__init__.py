"""The sandbox's PagerDuty account: models, domain functions and the REST v2 API."""
