"""No identifier in clear: external refs and idempotency records sealed

Revision ID: 0015_identifiers_sealed
Revises: 0014_consent_notify
Create Date: 2026-11-28

An API client's external ref (a CRM id) leads straight to the person; it
was stored in clear. Now ``api_external_refs`` keeps a blind index of the
client's id and the reference (``ref_index``, HMAC label ``external-ref``)
and the reference encrypted under the customer's data key. Idempotency
records keep the key as a blind index (``key_index``, label
``idempotency-key``) and the answer's body encrypted under the data key of
the customer it is about (``customer_id``).

Both tables get UUID ids (part of each value's associated data), so they are
rebuilt: the old table is set aside, every row is converted into the new one
with the keys of the app running the migration (its blind-index keys and
master keys, read from the key store, which may be a separate database), and
the old table is dropped -- on SQLite with ``secure_delete`` on, so the
clear values are overwritten, not left in free pages. Rows whose customer's
data key is gone (erased) lose what only that key could protect: a reference
is dropped, an answer kept without body (a replay says the customer was
erased). Downgrading decrypts the references back; idempotency keys cannot
be recovered from their index, so the records are dropped (they only serve
retries within 24 hours).
"""
import json
import re
import uuid
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op
from flask import current_app
from sqlalchemy.orm import Session

# The app's own crypto: the values must be exactly what its models read.
from consentmgr.crypto import read_header
from consentmgr.crypto.codecs import TEXT
from consentmgr.keys.models import DataKey
from consentmgr.keys.services import DataKeyCache, DataKeyUnavailable
from consentmgr.runtime import runtime
from consentmgr.sql import TZDateTime

# revision identifiers, used by Alembic.
revision = '0015_identifiers_sealed'
down_revision = '0014_consent_notify'
branch_labels = None
depends_on = None

BATCH = 500
REFS = 'api_external_refs'
ANSWERS = 'api_idempotency_keys'
_CUSTOMER_URL = re.compile(r"/customers/([0-9a-fA-F-]{32,36})(?:/|$)")


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


# -------------------------------------------------------------- the tables


def _create_sealed_tables():
    op.create_table(REFS,
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('ref_index', sa.String(length=80), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('external_ref', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['api_clients.id'], name=op.f('fk_api_external_refs_client_id_api_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_api_external_refs_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_external_refs')),
    sa.UniqueConstraint('client_id', 'ref_index', name=op.f('uq_api_external_refs_client_id'))
    )
    with op.batch_alter_table(REFS, schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_external_refs_customer_id'), ['customer_id'], unique=False)

    op.create_table(ANSWERS,
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('key_index', sa.String(length=80), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.SmallInteger(), nullable=False),
    sa.Column('location', sa.String(length=255), nullable=True),
    sa.Column('customer_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('response_body', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['api_clients.id'], name=op.f('fk_api_idempotency_keys_client_id_api_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_api_idempotency_keys_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_idempotency_keys')),
    sa.UniqueConstraint('client_id', 'key_index', name=op.f('uq_api_idempotency_keys_client_id'))
    )
    with op.batch_alter_table(ANSWERS, schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_idempotency_keys_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_idempotency_keys_customer_id'), ['customer_id'], unique=False)


def _create_clear_tables():
    """The tables as revision 0006 made them."""
    op.create_table(ANSWERS,
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.SmallInteger(), nullable=False),
    sa.Column('response_body', sa.Text(), nullable=False),
    sa.Column('location', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['api_clients.id'], name=op.f('fk_api_idempotency_keys_client_id_api_clients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_idempotency_keys')),
    sa.UniqueConstraint('client_id', 'key', name=op.f('uq_api_idempotency_keys_client_id'))
    )
    with op.batch_alter_table(ANSWERS, schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_idempotency_keys_created_at'), ['created_at'], unique=False)

    op.create_table(REFS,
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('external_ref', sa.String(length=128), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['api_clients.id'], name=op.f('fk_api_external_refs_client_id_api_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_api_external_refs_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_external_refs')),
    sa.UniqueConstraint('client_id', 'external_ref', name=op.f('uq_api_external_refs_client_id'))
    )
    with op.batch_alter_table(REFS, schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_external_refs_customer_id'), ['customer_id'], unique=False)


def _set_aside(table, indexes, unique):
    """Rename ``table`` to ``_<table>_old``, freeing the names its successor takes.

    Index names (and on PostgreSQL the indexes behind primary keys and
    unique constraints) are per schema, not per table.
    """
    for index in indexes:
        op.drop_index(index, table_name=table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f'ALTER TABLE {table} DROP CONSTRAINT {unique}')
        op.execute(f'ALTER TABLE {table} DROP CONSTRAINT pk_{table}')
    op.rename_table(table, f'_{table}_old')
    return f'_{table}_old'


def _drop_set_aside(name):
    if op.get_bind().dialect.name == "sqlite":
        # Overwrite the clear values with zeros instead of leaving them in free pages.
        op.execute("PRAGMA secure_delete = ON")
    op.drop_table(name)


# ------------------------------------------------------ keys and conversion


@contextmanager
def _data_keys(main):
    """A data-key cache reading the key store with the app's master keys."""
    engines = current_app.extensions["migrate"].db.engines
    keys_engine = engines.get("keys", engines[None])
    connection = main if keys_engine is engines[None] else keys_engine.connect()
    session = Session(binds={DataKey.__table__: connection})
    try:
        yield DataKeyCache(session, runtime().master_keys)
    finally:
        session.close()
        if connection is not main:
            connection.close()


def _preload(cache, owners):
    """Unwrap the data keys of a batch's customers in one key-store query per 500."""
    owners = list(owners)
    if owners:
        # A miss (an owner that exists nowhere) loads every owner named by ``also``.
        cache.cipher_for_read(uuid.uuid4(), 1, also=lambda: owners)


def _existing(connection, customer_ids):
    """Which of ``customer_ids`` are rows of ``customers`` (as UUIDs)."""
    customers = sa.table('customers', sa.column('id', sa.Uuid()))
    wanted = list(customer_ids)
    return set(connection.scalars(sa.select(customers.c.id).where(customers.c.id.in_(wanted)))) \
        if wanted else set()


def _cipher_for(cache, customer_id):
    try:
        return cache.cipher_for_write(customer_id, new_owner=False)
    except DataKeyUnavailable:  # erased: nothing may be written for them any more
        return None


def _batches(connection, query):
    result = connection.execute(query.execution_options(yield_per=BATCH))
    while True:
        rows = result.fetchmany(BATCH)
        if not rows:
            return
        yield rows


def _refs_table(name, *, sealed):
    columns = [sa.column('id', sa.Uuid()) if sealed else sa.column('id'),
               sa.column('client_id', sa.Uuid()), sa.column('customer_id', sa.Uuid()),
               sa.column('created_at', TZDateTime())]
    if sealed:
        columns += [sa.column('ref_index'), sa.column('external_ref', sa.LargeBinary())]
    else:
        columns += [sa.column('external_ref')]
    return sa.table(name, *columns)


def _answers_table(name, *, sealed):
    columns = [sa.column('client_id', sa.Uuid()), sa.column('request_hash'),
               sa.column('status_code'), sa.column('location'),
               sa.column('created_at', TZDateTime())]
    if sealed:
        columns += [sa.column('id', sa.Uuid()), sa.column('key_index'),
                    sa.column('customer_id', sa.Uuid()),
                    sa.column('response_body', sa.LargeBinary())]
    else:
        columns += [sa.column('key'), sa.column('response_body')]
    return sa.table(name, *columns)


def _seal_refs(connection, cache, old):
    """Every reference: blind index + ciphertext under the customer's key (erased: dropped)."""
    indexer = runtime().indexer("external-ref")
    source, target = _refs_table(old, sealed=False), _refs_table(REFS, sealed=True)
    query = sa.select(source.c.client_id, source.c.customer_id, source.c.created_at,
                      source.c.external_ref)
    for rows in _batches(connection, query):
        _preload(cache, {row.customer_id for row in rows})
        sealed = []
        for client_id, customer_id, created_at, ref in rows:
            cipher = _cipher_for(cache, customer_id)
            if cipher is None:
                continue
            row_id = uuid.uuid4()
            sealed.append({
                "id": row_id, "client_id": client_id, "customer_id": customer_id,
                "created_at": created_at,
                # As consentmgr.apiclients.external_refs.indexed_text computes it.
                "ref_index": indexer.compute(f"{client_id}\x00{ref}"),
                "external_ref": cipher.encrypt(TEXT.encode(ref), table=REFS,
                                               column="external_ref", row_id=row_id),
            })
        if sealed:
            connection.execute(target.insert(), sealed)


def _answer_subject(body, location):
    """The customer a stored answer is about: its ``customer_id``, or its Location's."""
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    found = answer.get("customer_id") if isinstance(answer, dict) else None
    if found is None and location:
        match = _CUSTOMER_URL.search(location)
        found = match.group(1) if match else None
    try:
        return uuid.UUID(str(found)) if found is not None else None
    except ValueError:
        return None


def _seal_answers(connection, cache, old):
    """Every stored answer: key as blind index, body under its customer's key."""
    indexer = runtime().indexer("idempotency-key")
    source, target = _answers_table(old, sealed=False), _answers_table(ANSWERS, sealed=True)
    query = sa.select(source.c.client_id, source.c.key, source.c.request_hash,
                      source.c.status_code, source.c.response_body, source.c.location,
                      source.c.created_at)
    for rows in _batches(connection, query):
        subjects = [_answer_subject(row.response_body, row.location) for row in rows]
        known = _existing(connection, {s for s in subjects if s is not None})
        _preload(cache, known)
        sealed = []
        for (client_id, key, request_hash, status_code, body, location, created_at), customer_id \
                in zip(rows, subjects, strict=True):
            row_id = uuid.uuid4()
            if customer_id not in known:
                customer_id = None  # no customer to encrypt for: status and Location only
            cipher = _cipher_for(cache, customer_id) if customer_id is not None else None
            if customer_id is not None and cipher is None:  # erased: the answer goes
                location = None
            sealed.append({
                "id": row_id, "client_id": client_id, "request_hash": request_hash,
                "status_code": status_code, "location": location, "created_at": created_at,
                "customer_id": customer_id,
                # As consentmgr.apiclients.idempotency.indexed_key computes it.
                "key_index": indexer.compute(f"{client_id}\x00{key}"),
                "response_body": None if cipher is None else cipher.encrypt(
                    TEXT.encode(body), table=ANSWERS, column="response_body", row_id=row_id),
            })
        if sealed:
            connection.execute(target.insert(), sealed)


def _open_refs(connection, cache, sealed_name):
    """Every reference decrypted back (those whose key is gone are dropped)."""
    source, target = _refs_table(sealed_name, sealed=True), _refs_table(REFS, sealed=False)
    query = sa.select(source.c.id, source.c.client_id, source.c.customer_id,
                      source.c.created_at, source.c.external_ref)
    for rows in _batches(connection, query):
        opened = []
        for row_id, client_id, customer_id, created_at, blob in rows:
            if blob is None:
                continue
            cipher = cache.cipher_for_read(customer_id, read_header(blob)[2])
            if cipher is None:
                continue
            ref = TEXT.decode(cipher.decrypt(blob, table=REFS, column="external_ref",
                                             row_id=row_id))
            opened.append({"client_id": client_id, "customer_id": customer_id,
                           "created_at": created_at, "external_ref": ref})
        if opened:
            connection.execute(target.insert(), opened)


# ------------------------------------------------------------------ steps


def upgrade_():
    old_refs = _set_aside(REFS, ['ix_api_external_refs_customer_id'],
                          'uq_api_external_refs_client_id')
    old_answers = _set_aside(ANSWERS, ['ix_api_idempotency_keys_created_at'],
                             'uq_api_idempotency_keys_client_id')
    _create_sealed_tables()
    connection = op.get_bind()
    with _data_keys(connection) as cache:
        _seal_refs(connection, cache, old_refs)
        _seal_answers(connection, cache, old_answers)
    _drop_set_aside(old_refs)
    _drop_set_aside(old_answers)


def downgrade_():
    sealed_refs = _set_aside(REFS, ['ix_api_external_refs_customer_id'],
                             'uq_api_external_refs_client_id')
    op.drop_index('ix_api_idempotency_keys_created_at', table_name=ANSWERS)
    op.drop_index('ix_api_idempotency_keys_customer_id', table_name=ANSWERS)
    op.drop_table(ANSWERS)  # keys cannot be recovered from their index
    _create_clear_tables()
    connection = op.get_bind()
    with _data_keys(connection) as cache:
        _open_refs(connection, cache, sealed_refs)
    op.drop_table(sealed_refs)


def upgrade_keys():
    pass


def downgrade_keys():
    pass
