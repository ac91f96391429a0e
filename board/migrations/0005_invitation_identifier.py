"""Invitation.identifier: what the owner typed, shown until the person accepts."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("board", "0004_typed_history_archive_constraints_invitations"),
    ]

    operations = [
        migrations.AddField(
            model_name="invitation",
            name="identifier",
            field=models.CharField(blank=True, max_length=254),
        ),
    ]
