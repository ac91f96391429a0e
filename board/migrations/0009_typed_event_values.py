# Typed copies of the events' JSON values (generated columns) for the charts; see TicketEvent.new_int.

import board.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('board', '0008_chart_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='ticketevent',
            name='event_chart_history',
        ),
        migrations.AddField(
            model_name='ticketevent',
            name='new_int',
            field=models.GeneratedField(db_persist=True, expression=board.models.JsonInteger('new'), output_field=models.BigIntegerField(null=True)),
        ),
        migrations.AddField(
            model_name='ticketevent',
            name='old_int',
            field=models.GeneratedField(db_persist=True, expression=board.models.JsonInteger('old'), output_field=models.BigIntegerField(null=True)),
        ),
        migrations.AddIndex(
            model_name='ticketevent',
            index=models.Index(condition=models.Q(('field__in', ['created', 'column', 'category', 'points', 'sprint', 'archived', 'deleted'])), fields=['board', 'ticket', 'board_version', 'at', 'field', 'category', 'new_int', 'old_int'], name='event_chart_history'),
        ),
    ]
