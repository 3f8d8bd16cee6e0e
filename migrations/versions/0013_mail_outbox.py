"""The mail outbox: sealed messages committed with their request, delivered by the worker

Revision ID: 0013_mail_outbox
Revises: 0012_audit_sequencer
Create Date: 2026-11-28

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0013_mail_outbox'
down_revision = '0012_audit_sequencer'
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    # Sealed (consentmgr/mail/sealing.py): no address, subject or link in the clear.
    # The delivery's state, attempts and last error type are its job's (jobs.id = job_id).
    op.create_table('mail_outbox',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('job_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('master_key_id', sa.String(length=32), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_outbox'))
    )


def downgrade_():
    op.drop_table('mail_outbox')


def upgrade_keys():
    pass


def downgrade_keys():
    pass
