"""History as the single source of truth, archived tickets, database-level rules, invitations.

TicketEvent gets its board, a source, typed JSON values, the column category
and rank on flow events, and a board version of its own (unique per board:
the total order replay uses). Existing rows are converted: numbers and
booleans become typed, a comma list of label ids becomes one event per label
added or removed, column events get the category their column has today (the
best that is known) and events are renumbered per board in their old order.
"""

import django.db.models.deletion
import django.db.models.functions.text
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import board.models

INT_FIELDS = {"points", "timebox_days", "assignee", "epic", "sprint", "column", "comment"}


def _int(value):
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _ids(value):
    return {int(v) for v in (value or "").split(",") if v.strip().isdecimal()}


def convert_history(apps, schema_editor):
    Board = apps.get_model("board", "Board")
    Ticket = apps.get_model("board", "Ticket")
    Column = apps.get_model("board", "Column")
    Label = apps.get_model("board", "Label")
    Event = apps.get_model("board", "TicketEvent")
    categories = dict(Column.objects.values_list("id", "category"))
    label_names = dict(Label.objects.values_list("id", "name"))
    for board_row in Board.objects.all():
        ticket_ids = list(Ticket.objects.filter(board=board_row).values_list("id", flat=True))
        ranks = dict(Ticket.objects.filter(board=board_row).values_list("id", "rank"))
        events = list(Event.objects.filter(ticket_id__in=ticket_ids).order_by("board_version", "at", "id"))
        ordered = []  # (event, is_new)
        last_column_event = {}
        for e in events:
            e.board_id = board_row.pk
            e.source = "person" if e.actor_id else "system"
            if e.field == "labels":
                before, after = _ids(e.old), _ids(e.new)
                ops = [(lid, None) for lid in sorted(before - after)] + [(None, lid) for lid in sorted(after - before)]
                for i, (removed, added) in enumerate(ops):
                    target = e if i == 0 else Event(
                        ticket_id=e.ticket_id, actor_id=e.actor_id, at=e.at, field="labels", board_id=board_row.pk,
                        source=e.source, old_display="", new_display="", board_version=0,
                    )
                    target.old_value, target.new_value = removed, added
                    name = label_names.get(removed or added, f"label {removed or added}")
                    target.old_display = name if removed else ""
                    target.new_display = name if added else ""
                    ordered.append((target, i > 0))
                if not ops:
                    ordered.append((e, False))
                    e.old_value = e.new_value = None
                continue
            if e.field in INT_FIELDS:
                e.old_value, e.new_value = _int(e.old), _int(e.new)
            elif e.field == "blocked":
                e.old_value = None if e.old is None else e.old == "True"
                e.new_value = None if e.new is None else e.new == "True"
            else:
                e.old_value, e.new_value = e.old, e.new
            if e.field == "column":
                e.category = categories.get(e.new_value)
                last_column_event[e.ticket_id] = e
            elif e.field == "rank":
                e.rank = e.new
                last_column_event[e.ticket_id] = e
            ordered.append((e, False))
        for ticket_id, e in last_column_event.items():
            e.rank = ranks.get(ticket_id)
        version = 0
        last_of_ticket = {}
        for e, _ in ordered:
            version += 1
            e.board_version = version
            last_of_ticket[e.ticket_id] = version
        fields = ["board", "source", "old_value", "new_value", "old_display", "new_display", "category", "rank",
                  "board_version"]
        Event.objects.bulk_update([e for e, is_new in ordered if not is_new], fields, batch_size=500)
        Event.objects.bulk_create([e for e, is_new in ordered if is_new], batch_size=500)
        for ticket_id, v in last_of_ticket.items():
            Ticket.objects.filter(pk=ticket_id).update(board_version=v)
        Board.objects.filter(pk=board_row.pk).update(
            version=max(board_row.version, version) + 1, layout_version=board_row.layout_version + 1
        )


class Migration(migrations.Migration):

    dependencies = [
        ("board", "0003_colour_validators"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="ticket", name="archived_at", field=models.DateTimeField(blank=True, null=True),
        ),
        # --- TicketEvent: new columns, filled from the old ones ---------------
        migrations.AddField(
            model_name="ticketevent", name="board",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT,
                                    related_name="events", to="board.board"),
        ),
        migrations.AddField(
            model_name="ticketevent", name="source",
            field=models.CharField(choices=[("person", "Person"), ("api", "API"), ("admin", "Admin"),
                                            ("import", "Import"), ("command", "Command"), ("run", "Training run"),
                                            ("system", "System")], default="person", max_length=10),
        ),
        migrations.AddField(
            model_name="ticketevent", name="source_detail", field=models.CharField(blank=True, max_length=80),
        ),
        migrations.AddField(
            model_name="ticketevent", name="category",
            field=models.CharField(blank=True, choices=[("todo", "Not started"), ("in_progress", "In progress"),
                                                        ("done", "Done")], max_length=12, null=True),
        ),
        migrations.AddField(
            model_name="ticketevent", name="rank", field=board.models.RankField(blank=True, max_length=64, null=True),
        ),
        migrations.AddField(model_name="ticketevent", name="old_value", field=models.JSONField(blank=True, null=True)),
        migrations.AddField(model_name="ticketevent", name="new_value", field=models.JSONField(blank=True, null=True)),
        migrations.RemoveIndex(model_name="ticketevent", name="event_ticket_at"),
        migrations.RunPython(convert_history, migrations.RunPython.noop),
        migrations.RemoveField(model_name="ticketevent", name="old"),
        migrations.RemoveField(model_name="ticketevent", name="new"),
        migrations.RenameField(model_name="ticketevent", old_name="old_value", new_name="old"),
        migrations.RenameField(model_name="ticketevent", old_name="new_value", new_name="new"),
        migrations.AlterField(
            model_name="ticketevent", name="board",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="events",
                                    to="board.board"),
        ),
        migrations.AlterField(
            model_name="ticketevent", name="ticket",
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING,
                                    related_name="events", to="board.ticket"),
        ),
        migrations.AlterField(
            model_name="ticketevent", name="actor",
            field=models.ForeignKey(blank=True, db_constraint=False, null=True,
                                    on_delete=django.db.models.deletion.DO_NOTHING, related_name="+",
                                    to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name="ticketevent", name="at", field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(model_name="ticketevent", name="board_version", field=models.BigIntegerField()),
        migrations.AlterModelOptions(name="ticketevent", options={"ordering": ["board_version", "id"]}),
        migrations.AddIndex(
            model_name="ticketevent", index=models.Index(fields=["board", "at"], name="event_board_at"),
        ),
        migrations.AddIndex(
            model_name="ticketevent",
            index=models.Index(fields=["board", "field", "at"], name="event_board_field_at"),
        ),
        migrations.AddIndex(
            model_name="ticketevent",
            index=models.Index(fields=["ticket", "board_version"], name="event_ticket_version"),
        ),
        migrations.AddConstraint(
            model_name="ticketevent",
            constraint=models.UniqueConstraint(fields=("board", "board_version"), name="event_unique_board_version"),
        ),
        migrations.AddConstraint(
            model_name="ticketevent",
            constraint=models.CheckConstraint(
                condition=models.Q(("source__in", ["person", "api", "admin", "import", "command", "run", "system"])),
                name="event_source_valid"),
        ),
        migrations.AddConstraint(
            model_name="ticketevent",
            constraint=models.CheckConstraint(
                condition=models.Q(("category__isnull", True), ("category__in", ["todo", "in_progress", "done"]),
                                   _connector="OR"),
                name="event_category_valid"),
        ),
        # --- names unique in any case; choice fields checked by the database ---
        migrations.RemoveConstraint(model_name="epic", name="epic_unique_name"),
        migrations.RemoveConstraint(model_name="label", name="label_unique_name"),
        migrations.AddConstraint(
            model_name="epic",
            constraint=models.UniqueConstraint(models.F("board"), django.db.models.functions.text.Lower("name"),
                                               name="epic_unique_name_any_case"),
        ),
        migrations.AddConstraint(
            model_name="label",
            constraint=models.UniqueConstraint(models.F("board"), django.db.models.functions.text.Lower("name"),
                                               name="label_unique_name_any_case"),
        ),
        migrations.AddConstraint(
            model_name="board",
            constraint=models.CheckConstraint(condition=models.Q(("template__in", ["ml_sprint", "simple"])),
                                              name="board_template_valid"),
        ),
        migrations.AddConstraint(
            model_name="board",
            constraint=models.CheckConstraint(condition=models.Q(("wip_mode__in", ["warn", "hard"])),
                                              name="board_wip_mode_valid"),
        ),
        migrations.AddConstraint(
            model_name="column",
            constraint=models.CheckConstraint(condition=models.Q(("category__in", ["todo", "in_progress", "done"])),
                                              name="column_category_valid"),
        ),
        migrations.AddConstraint(
            model_name="membership",
            constraint=models.CheckConstraint(condition=models.Q(("role__in", ["owner", "member", "viewer"])),
                                              name="membership_role_valid"),
        ),
        migrations.AddConstraint(
            model_name="sprint",
            constraint=models.CheckConstraint(condition=models.Q(("state__in", ["planned", "active", "closed"])),
                                              name="sprint_state_valid"),
        ),
        migrations.AddConstraint(
            model_name="sprint",
            constraint=models.UniqueConstraint(condition=models.Q(("state", "active")), fields=("board",),
                                               name="sprint_one_active_per_board"),
        ),
        migrations.AddConstraint(
            model_name="ticket",
            constraint=models.CheckConstraint(
                condition=models.Q(("kind__in", ["story", "bug", "research", "experiment", "chore"])),
                name="ticket_kind_valid"),
        ),
        # --- invitations -------------------------------------------------------
        migrations.CreateModel(
            name="Invitation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("role", models.CharField(choices=[("owner", "Owner"), ("member", "Member"), ("viewer", "Viewer")],
                                          default="member", max_length=10)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("board", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="invitations",
                                            to="board.board")),
                ("invited_by", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL,
                                                 related_name="+", to=settings.AUTH_USER_MODEL)),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="invitations",
                                           to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "ordering": ["board_id", "created_at", "id"],
                "constraints": [
                    models.UniqueConstraint(fields=("board", "user"), name="invitation_unique_user"),
                    models.CheckConstraint(condition=models.Q(("role__in", ["owner", "member", "viewer"])),
                                           name="invitation_role_valid"),
                ],
            },
        ),
    ]
