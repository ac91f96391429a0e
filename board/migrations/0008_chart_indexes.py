# A covering index for the charts (board/charts.py): see TicketEvent.Meta.indexes.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("board", "0007_hypotheses_results_pulse"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="ticketevent",
            index=models.Index(
                condition=models.Q(
                    ("field__in", ["created", "column", "category", "points", "sprint", "archived", "deleted"])
                ),
                fields=["board", "ticket", "board_version", "at", "field", "category", "new", "old"],
                name="event_chart_history",
            ),
        ),
    ]
