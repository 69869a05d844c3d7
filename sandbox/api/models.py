"""The emulated PagerDuty account: every object keyed by a PagerDuty-style id."""

from django.db import models


def _id_field():
    return models.CharField(primary_key=True, max_length=32)


class Team(models.Model):
    id = _id_field()
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    # PagerDuty's team visibility: "manager" (public, the default) or "none" (private).
    default_role = models.CharField(max_length=16, default="manager")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return str(self.pk)


class User(models.Model):
    id = _id_field()
    name = models.CharField(max_length=200)
    email = models.EmailField(unique=True)
    role = models.CharField(max_length=40, default="user")
    time_zone = models.CharField(max_length=64, default="Etc/UTC")
    color = models.CharField(max_length=40, default="green")
    job_title = models.CharField(max_length=200, blank=True, default="")
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    teams = models.ManyToManyField(Team, related_name="users", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return str(self.pk)


class ContactMethod(models.Model):
    id = _id_field()
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="contact_methods")
    type = models.CharField(max_length=60)
    label = models.CharField(max_length=100, default="Default")
    address = models.CharField(max_length=200)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return str(self.pk)


class NotificationRule(models.Model):
    id = _id_field()
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notification_rules")
    contact_method = models.ForeignKey(ContactMethod, on_delete=models.CASCADE)
    start_delay_in_minutes = models.IntegerField(default=0)
    urgency = models.CharField(max_length=10, default="high")

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return str(self.pk)


class EscalationPolicy(models.Model):
    id = _id_field()
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    num_loops = models.IntegerField(default=0)
    teams = models.ManyToManyField(Team, related_name="escalation_policies", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return str(self.pk)


class EscalationRule(models.Model):
    id = _id_field()
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="rules")
    position = models.IntegerField()
    escalation_delay_in_minutes = models.IntegerField(default=30)
    targets = models.ManyToManyField(User, related_name="escalation_rules")

    class Meta:
        ordering = ["position"]

    def __str__(self):
        return str(self.pk)


class Service(models.Model):
    id = _id_field()
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True, default="")
    status = models.CharField(max_length=20, default="active")
    escalation_policy = models.ForeignKey(EscalationPolicy, on_delete=models.PROTECT, related_name="services")
    teams = models.ManyToManyField(Team, related_name="services", blank=True)
    auto_resolve_timeout = models.IntegerField(null=True, default=14400)
    acknowledgement_timeout = models.IntegerField(null=True, default=1800)
    alert_creation = models.CharField(max_length=40, default="create_alerts_and_incidents")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    last_incident_timestamp = models.DateTimeField(null=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return str(self.pk)


class Integration(models.Model):
    id = _id_field()
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="integrations")
    type = models.CharField(max_length=60, default="events_api_v2_inbound_integration")
    name = models.CharField(max_length=200)
    integration_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return str(self.pk)


class Priority(models.Model):
    id = _id_field()
    name = models.CharField(max_length=40)
    description = models.TextField(blank=True, default="")
    order = models.IntegerField()

    class Meta:
        ordering = ["order"]

    def __str__(self):
        return str(self.pk)


class Incident(models.Model):
    id = _id_field()
    number = models.IntegerField(unique=True)
    title = models.CharField(max_length=1024)
    status = models.CharField(max_length=20, db_index=True)
    urgency = models.CharField(max_length=10, default="high")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="incidents")
    escalation_policy = models.ForeignKey(EscalationPolicy, on_delete=models.PROTECT, related_name="incidents")
    escalation_level = models.IntegerField(default=1)
    priority = models.ForeignKey(Priority, null=True, blank=True, on_delete=models.SET_NULL)
    incident_key = models.CharField(max_length=255, db_index=True)
    body_details = models.JSONField(null=True, blank=True)
    conference_bridge = models.JSONField(null=True, blank=True)
    assigned_via = models.CharField(max_length=40, default="escalation_policy")
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField()
    last_status_change_at = models.DateTimeField()
    last_status_change_by_user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    # When the incident reached its current escalation level (its escalate pending action counts from here).
    escalated_at = models.DateTimeField(null=True, blank=True)
    first_trigger_log_entry_id = models.CharField(max_length=32, blank=True, default="")
    # Alert counts are kept on the row so a page of 100 incidents needs no per-row counting.
    alerts_triggered = models.IntegerField(default=0)
    alerts_resolved = models.IntegerField(default=0)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self):
        return str(self.pk)


class Assignment(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="assignments")
    at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return str(self.pk)


class Acknowledgement(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="acknowledgements")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return str(self.pk)


class Alert(models.Model):
    id = _id_field()
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="alerts")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="alerts")
    integration = models.ForeignKey(Integration, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=20, default="triggered")
    alert_key = models.CharField(max_length=255, db_index=True)
    summary = models.CharField(max_length=1024)
    severity = models.CharField(max_length=20, default="critical")
    suppressed = models.BooleanField(default=False)
    body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return str(self.pk)


class Note(models.Model):
    id = _id_field()
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="notes")
    user = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    content = models.TextField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return str(self.pk)


class LogEntry(models.Model):
    id = _id_field()
    type = models.CharField(max_length=60)
    summary = models.CharField(max_length=1024)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="log_entries")
    created_at = models.DateTimeField(db_index=True)
    agent_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    agent_service = models.ForeignKey(Service, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.JSONField(default=dict)
    # Assignees / acknowledgers / note etc. as the entry type needs, kept as ready-to-serve JSON.
    extra = models.JSONField(default=dict)
    is_overview = models.BooleanField(default=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return str(self.pk)


class StatusUpdate(models.Model):
    id = _id_field()
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="status_updates")
    sender = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    message = models.TextField()
    subject = models.CharField(max_length=500, blank=True, default="")
    html_message = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return str(self.pk)


class ResponderRequest(models.Model):
    id = _id_field()
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="responder_requests")
    requester = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    message = models.TextField(blank=True, default="")
    requested_at = models.DateTimeField()
    targets = models.ManyToManyField(User, related_name="responder_requests_received")
    # Each target's answer, given in PagerDuty's apps (no REST call): {user id: {"state": "joined"|"declined",
    # "at": ISO time, "message": text}}; a target not in it is still pending.
    answers = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["requested_at", "id"]

    def __str__(self):
        return str(self.pk)


class Template(models.Model):
    id = _id_field()
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    template_type = models.CharField(max_length=40, default="status_update")
    templated_fields = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return str(self.pk)


class ChangeEvent(models.Model):
    id = _id_field()
    summary = models.CharField(max_length=1024)
    timestamp = models.DateTimeField(db_index=True)
    source = models.CharField(max_length=255, blank=True, default="")
    integration = models.ForeignKey(Integration, null=True, blank=True, on_delete=models.SET_NULL)
    services = models.ManyToManyField(Service, related_name="change_events")
    custom_details = models.JSONField(default=dict)
    links = models.JSONField(default=list)

    class Meta:
        ordering = ["timestamp", "id"]

    def __str__(self):
        return str(self.pk)


class Notification(models.Model):
    id = _id_field()
    type = models.CharField(max_length=40)
    started_at = models.DateTimeField(db_index=True)
    address = models.CharField(max_length=200)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    incident = models.ForeignKey(Incident, null=True, on_delete=models.CASCADE, related_name="notifications")

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self):
        return str(self.pk)


class Schedule(models.Model):
    """An on-call schedule: ordered layers (later layers win), plus overrides on top of them all."""

    id = _id_field()
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    time_zone = models.CharField(max_length=64, default="Etc/UTC")
    teams = models.ManyToManyField(Team, related_name="schedules", blank=True)
    # Escalation rules that page this schedule (a rule's targets are its users plus these schedules).
    escalation_rules = models.ManyToManyField(EscalationRule, related_name="schedule_targets", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return str(self.pk)


class ScheduleLayer(models.Model):
    id = _id_field()
    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="layers")
    position = models.IntegerField()
    name = models.CharField(max_length=200)
    start = models.DateTimeField()
    end = models.DateTimeField(null=True, blank=True)
    rotation_virtual_start = models.DateTimeField()
    rotation_turn_length_seconds = models.IntegerField()
    # Ordered user ids (the rotation order) and PagerDuty restriction objects, as the API takes them.
    user_ids = models.JSONField(default=list)
    restrictions = models.JSONField(default=list)

    class Meta:
        ordering = ["schedule", "position"]

    def __str__(self):
        return str(self.pk)


class ScheduleOverride(models.Model):
    id = _id_field()
    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="schedule_overrides")
    start = models.DateTimeField()
    end = models.DateTimeField()

    class Meta:
        ordering = ["start", "id"]

    def __str__(self):
        return str(self.pk)
