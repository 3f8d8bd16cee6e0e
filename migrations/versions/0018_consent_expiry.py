"""Consent that expires

Revision ID: 0018_consent_expiry
Revises: 0017_retention
Create Date: 2026-11-28

A purpose may say how long a consent lasts (``policy_purposes.valid_for_days``);
a grant's state row keeps when it lapses (``consent_states.expires_at``, read
by the check) and when its renewal reminder was queued (``reminded_at``).
Existing rows get NULL: no term, nothing to remind of.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018_consent_expiry'
down_revision = '0017_retention'
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    op.add_column('policy_purposes', sa.Column('valid_for_days', sa.Integer(), nullable=True))
    op.add_column('consent_states',
                  sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('consent_states',
                  sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_consent_states_expires_at', 'consent_states', ['expires_at'])


def downgrade_():
    op.drop_index('ix_consent_states_expires_at', table_name='consent_states')
    with op.batch_alter_table('consent_states', schema=None) as batch_op:
        batch_op.drop_column('reminded_at')
        batch_op.drop_column('expires_at')
    with op.batch_alter_table('policy_purposes', schema=None) as batch_op:
        batch_op.drop_column('valid_for_days')


def upgrade_keys():
    pass


def downgrade_keys():
    pass
