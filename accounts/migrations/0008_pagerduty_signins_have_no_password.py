"""A PagerDuty sign-in never also has a password (issue 11): drop passwords that older versions let one grow."""

from django.contrib.auth.hashers import make_password
from django.db import migrations


def drop_passwords(apps, schema_editor):
    SocialAccount = apps.get_model("socialaccount", "SocialAccount")
    User = apps.get_model("auth", "User")
    user_ids = SocialAccount.objects.filter(provider="pagerduty").values_list("user_id", flat=True)
    for user in User.objects.filter(pk__in=user_ids).exclude(password__startswith="!"):
        # An unusable password, as set_unusable_password() makes; it also ends the user's sessions.
        user.password = make_password(None)
        user.save(update_fields=["password"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_profile_session_epoch"),
        ("socialaccount", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(drop_passwords, migrations.RunPython.noop)]
