"""Model instances from hand-written SQL, as the ORM would build them.

The two hottest statements of the board (the membership check every request
makes, and what a move reads) are written by hand: compiling them through
the ORM cost more than running them. These helpers keep the result the ORM's:
the same columns, the same database converters, instances built by from_db.
"""

from __future__ import annotations

from django.db import connection


def attnames(model) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]


def select_list(model, alias: str) -> str:
    """Every concrete column of `model`, qualified by `alias`, in field order."""
    return ", ".join(f'{alias}."{f.column}"' for f in model._meta.concrete_fields)


def instance(model, values):
    """A `model` instance from its columns' values in select_list order (None
    when the row is absent: a LEFT JOIN that found nothing)."""
    if values[0] is None:
        return None
    return model.from_db(connection.alias, attnames(model), _converted(model, values))


def take(values, model) -> list:
    """The next len(concrete fields) values from an iterator over a row."""
    return [next(values) for _ in model._meta.concrete_fields]


def _converted(model, values) -> list:
    """What SQLCompiler would apply (SQLite returns datetimes and JSON as text)."""
    out = []
    for value, funcs in zip(values, _converters(model), strict=True):
        if value is not None:
            for convert, col in funcs:
                value = convert(value, col, connection)
        out.append(value)
    return out


_CONVERTERS: dict = {}


def _converters(model) -> list:
    key = (connection.vendor, model)
    if key not in _CONVERTERS:
        cols = [field.get_col(model._meta.db_table) for field in model._meta.concrete_fields]
        _CONVERTERS[key] = [
            [(f, col) for f in (*connection.ops.get_db_converters(col), *col.get_db_converters(connection))]
            for col in cols
        ]
    return _CONVERTERS[key]
