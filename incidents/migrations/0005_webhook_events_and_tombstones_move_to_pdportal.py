"""WebhookEvent and Tombstone now belong to pdportal (the platform): state only, the tables keep their names."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0004_log_entry_incident_type_index'),
        ('pdportal', '0003_webhook_events_and_tombstones_move_to_pdportal'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(
                    model_name='tombstone',
                    name='tombstone_model_pd_id',
                ),
                migrations.DeleteModel(
                    name='Tombstone',
                ),
                migrations.RemoveIndex(
                    model_name='webhookevent',
                    name='webhook_event_unapplied',
                ),
                migrations.DeleteModel(
                    name='WebhookEvent',
                ),
            ],
        ),
    ]
