"""Alembic environment for two targets: the main database and the key store.

The key store (``data_keys``) has its own metadata (the ``keys`` bind) and
its own version table, so it can live in a separate database. When no
``CONSENTMGR_KEYS_DATABASE_URL`` is set, both targets migrate over one
connection to the main database, in one transaction.
"""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
# Keep the application's own loggers working when migrations run in-process.
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

db = current_app.extensions["migrate"].db
KEYS = "keys"
VERSION_TABLES = {"": "alembic_version", KEYS: "alembic_version_keys"}
TARGETS = {"": db.metadatas[None], KEYS: db.metadatas[KEYS]}


def include_object_for(name):
    """Autogenerate compares each target only with its own tables."""
    own = set(TARGETS[name].tables)

    def include_object(obj, obj_name, type_, reflected, compare_to):
        if type_ == "table":
            return obj_name in own
        return True

    return include_object


def render_item(type_, obj, autogen_context):
    """Render our column types as the plain SQL types they store."""
    if type_ == "type" and type(obj).__name__ == "Ciphertext":
        return "sa.LargeBinary()"
    return False


def run_migrations_offline():
    raise SystemExit("Offline (--sql) migrations are not supported; run against a database.")


def run_migrations_online():
    conf_args = dict(current_app.extensions["migrate"].configure_args)

    def process_revision_directives(context_, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if all(ops.is_empty() for ops in script.upgrade_ops_list):
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args.setdefault("process_revision_directives", process_revision_directives)
    main_engine = db.engines[None]
    keys_engine = db.engines.get(KEYS, main_engine)
    connections = {}
    transactions = []
    try:
        for name, engine in (("", main_engine), (KEYS, keys_engine)):
            if engine is main_engine and "" in connections:
                connections[name] = connections[""]
                continue
            connections[name] = engine.connect()
            transactions.append(connections[name].begin())
        for name in ("", KEYS):
            logger.info("Migrating %s", "the key store" if name else "the main database")
            context.configure(
                connection=connections[name],
                upgrade_token=f"{name}_upgrades",
                downgrade_token=f"{name}_downgrades",
                target_metadata=TARGETS[name],
                version_table=VERSION_TABLES[name],
                include_object=include_object_for(name),
                render_item=render_item,
                **conf_args,
            )
            context.run_migrations(engine_name=name)
        for transaction in transactions:
            transaction.commit()
    except BaseException:
        for transaction in transactions:
            transaction.rollback()
        raise
    finally:
        for connection in set(connections.values()):
            connection.close()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
