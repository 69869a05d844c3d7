"""Incidents, alerts, notes, log entries, change events, priorities, templates and the webhook receiver."""
