"""The webhook v3 event types a subscription can carry, grouped the way the subscription form shows them."""

INCIDENT_EVENT_TYPES = (
    "incident.acknowledged",
    "incident.action_invocation.created",
    "incident.action_invocation.terminated",
    "incident.action_invocation.updated",
    "incident.annotated",
    "incident.conference_bridge.updated",
    "incident.custom_field_values.updated",
    "incident.delegated",
    "incident.escalated",
    "incident.incident_type.changed",
    "incident.priority_updated",
    "incident.reassigned",
    "incident.reopened",
    "incident.resolved",
    "incident.responder.added",
    "incident.responder.replied",
    "incident.role.assigned",
    "incident.service_updated",
    "incident.status_update_published",
    "incident.task.completed",
    "incident.task.created",
    "incident.task.updated",
    "incident.triggered",
    "incident.unacknowledged",
    "incident.workflow.completed",
    "incident.workflow.started",
)
SERVICE_EVENT_TYPES = (
    "service.created",
    "service.custom_field_values.updated",
    "service.deleted",
    "service.updated",
)
ALL_EVENT_TYPES = INCIDENT_EVENT_TYPES + SERVICE_EVENT_TYPES
PING_EVENT_TYPE = "pagey.ping"

FILTER_TYPES = {
    "account": "account_reference",
    "team": "team_reference",
    "service": "service_reference",
}
