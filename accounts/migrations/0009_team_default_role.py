"""Teams keep PagerDuty's `default_role` (public "manager" / private "none"), so visibility can follow it."""

from django.db import migrations, models


def from_raw(apps, schema_editor):
    """Existing rows: the value PagerDuty sent (kept in `raw`); a stub that was never read stays unknown."""
    Team = apps.get_model("accounts", "Team")
    for team in Team.objects.all().only("pk", "raw"):
        raw = team.raw if isinstance(team.raw, dict) else {}
        if raw.get("type") == "team":
            role = raw.get("default_role")
            value = role if role in ("manager", "none") else "none" if role else "manager"
        else:
            value = ""
        Team.objects.filter(pk=team.pk).update(default_role=value)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_pagerduty_signins_have_no_password"),
    ]

    operations = [
        migrations.AddField(
            model_name="team",
            name="default_role",
            field=models.CharField(blank=True, default="manager", max_length=16),
        ),
        migrations.RunPython(from_raw, migrations.RunPython.noop),
    ]
