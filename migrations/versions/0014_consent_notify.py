"""Announce every change a consent check could see: NOTIFY consentmgr_consent_check

Revision ID: 0014_consent_notify
Revises: 0013_mail_outbox
Create Date: 2026-11-28

The per-process check cache (consentmgr/consent/check_cache.py) evicts a
customer when told, and serves nothing unless all of these triggers exist
and are enabled. The payload is the customer id, or '*' (drop everything)
for a TRUNCATE or a statement touching more than 100 customers: a bulk load
sends one notification, not millions. Statement-level triggers with
transition tables, so a single write pays for one small query per
statement. PostgreSQL only: SQLite has no cache to keep current.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014_consent_notify'
down_revision = '0013_mail_outbox'
branch_labels = None
depends_on = None

CHANNEL = "consentmgr_consent_check"
MANY = 100

# ``changed`` is the transition table each statement trigger names; ``key``
# the column holding the customer id.
_ANNOUNCE = """
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    customer uuid;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('{channel}', '*');
        RETURN NULL;
    END IF;
    IF TG_LEVEL = 'ROW' THEN
        PERFORM pg_notify('{channel}', NEW.{key}::text);
        RETURN NULL;
    END IF;
    IF (SELECT count(*) FROM (SELECT DISTINCT {key} FROM changed LIMIT {many} + 1) AS c) > {many} THEN
        PERFORM pg_notify('{channel}', '*');
        RETURN NULL;
    END IF;
    FOR customer IN SELECT DISTINCT {key} FROM changed LOOP
        PERFORM pg_notify('{channel}', customer::text);
    END LOOP;
    RETURN NULL;
END
$$
"""

STATES_FUNCTION = "consentmgr_consent_states_changed"
CUSTOMERS_FUNCTION = "consentmgr_customer_status_changed"

TRIGGERS = [
    f"""CREATE TRIGGER consent_states_notify_check_insert AFTER INSERT ON consent_states
        REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION {STATES_FUNCTION}()""",
    f"""CREATE TRIGGER consent_states_notify_check_update AFTER UPDATE ON consent_states
        REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION {STATES_FUNCTION}()""",
    f"""CREATE TRIGGER consent_states_notify_check_delete AFTER DELETE ON consent_states
        REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION {STATES_FUNCTION}()""",
    f"""CREATE TRIGGER consent_states_notify_check_truncate AFTER TRUNCATE ON consent_states
        FOR EACH STATEMENT EXECUTE FUNCTION {STATES_FUNCTION}()""",
    # Only a change of status matters to the check (erased, restricted): other
    # updates of a customer's row cost nothing.
    f"""CREATE TRIGGER customers_notify_check_status AFTER UPDATE OF status ON customers
        FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
        EXECUTE FUNCTION {CUSTOMERS_FUNCTION}()""",
    f"""CREATE TRIGGER customers_notify_check_delete AFTER DELETE ON customers
        REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION {CUSTOMERS_FUNCTION}()""",
    f"""CREATE TRIGGER customers_notify_check_truncate AFTER TRUNCATE ON customers
        FOR EACH STATEMENT EXECUTE FUNCTION {CUSTOMERS_FUNCTION}()""",
]
TRIGGER_TABLES = {
    "consent_states_notify_check_insert": "consent_states",
    "consent_states_notify_check_update": "consent_states",
    "consent_states_notify_check_delete": "consent_states",
    "consent_states_notify_check_truncate": "consent_states",
    "customers_notify_check_status": "customers",
    "customers_notify_check_delete": "customers",
    "customers_notify_check_truncate": "customers",
}


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def _postgresql():
    return op.get_bind().dialect.name == "postgresql"


def upgrade_():
    if not _postgresql():
        return
    op.execute(_ANNOUNCE.format(name=STATES_FUNCTION, channel=CHANNEL, key="customer_id", many=MANY))
    op.execute(_ANNOUNCE.format(name=CUSTOMERS_FUNCTION, channel=CHANNEL, key="id", many=MANY))
    for statement in TRIGGERS:
        op.execute(statement)


def downgrade_():
    if not _postgresql():
        return
    for trigger, table in TRIGGER_TABLES.items():
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
    op.execute(f"DROP FUNCTION IF EXISTS {STATES_FUNCTION}()")
    op.execute(f"DROP FUNCTION IF EXISTS {CUSTOMERS_FUNCTION}()")


def upgrade_keys():
    pass


def downgrade_keys():
    pass
