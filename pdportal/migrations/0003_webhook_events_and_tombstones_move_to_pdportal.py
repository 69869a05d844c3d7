"""WebhookEvent and Tombstone move here from incidents: state only, on the tables incidents made (same names)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('pdportal', '0002_sync_progress'),
        ('incidents', '0004_log_entry_incident_type_index'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Tombstone',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('model', models.CharField(max_length=100)),
                        ('pd_id', models.CharField(max_length=64)),
                        ('deleted_at', models.DateTimeField()),
                    ],
                    options={
                        'db_table': 'incidents_tombstone',
                        'constraints': [models.UniqueConstraint(fields=('model', 'pd_id'), name='tombstone_model_pd_id')],
                    },
                ),
                migrations.CreateModel(
                    name='WebhookEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('event_id', models.CharField(max_length=128, unique=True)),
                        ('webhook_id', models.CharField(blank=True, max_length=128)),
                        ('subscription_id', models.CharField(blank=True, max_length=64)),
                        ('event_type', models.CharField(db_index=True, max_length=128)),
                        ('resource_type', models.CharField(blank=True, max_length=64)),
                        ('resource_id', models.CharField(blank=True, db_index=True, max_length=64)),
                        ('occurred_at', models.DateTimeField(blank=True, null=True)),
                        ('payload', models.JSONField(default=dict)),
                        ('received_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('applied_at', models.DateTimeField(blank=True, null=True)),
                        ('processed_at', models.DateTimeField(blank=True, db_index=True, null=True)),
                        ('error', models.TextField(blank=True)),
                        ('attempts', models.PositiveSmallIntegerField(default=0)),
                    ],
                    options={
                        'db_table': 'incidents_webhookevent',
                        'ordering': ['-received_at', '-id'],
                        'indexes': [models.Index(condition=models.Q(('applied_at__isnull', True)), fields=['occurred_at', 'id'], name='webhook_event_unapplied')],
                    },
                ),
            ],
        ),
    ]
