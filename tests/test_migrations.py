"""Migrations create exactly what the models describe, on every database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext


def test_autogenerate_finds_no_difference(db):
    differences = {}
    for bind_key, metadata in db.metadatas.items():
        own = set(metadata.tables)
        bind = db.session.get_bind(clause=next(iter(metadata.tables.values())))
        with bind.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "include_object": lambda obj, name, type_, reflected, other:
                        type_ != "table" or name in own,
                },
            )
            differences[bind_key] = compare_metadata(context, metadata)
    assert differences == {key: [] for key in db.metadatas}


def test_key_store_has_its_own_version_table(db):
    import sqlalchemy as sa

    tables = sa.inspect(db.engine).get_table_names()
    assert {"alembic_version", "alembic_version_keys", "data_keys", "customers"} <= set(tables)
