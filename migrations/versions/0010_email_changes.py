"""Pending portal email changes, confirmed from the new address

Revision ID: 0010_email_changes
Revises: 0009_web_sessions
Create Date: 2026-11-28

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_email_changes'
down_revision = '0009_web_sessions'
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    # Constant-shape sign-in: a request for an unknown address writes a decoy
    # token with no customer, and every request purges expired tokens.
    with op.batch_alter_table('portal_sign_in_tokens', schema=None) as batch_op:
        batch_op.alter_column('customer_id', existing_type=sa.Uuid(), nullable=True)
        batch_op.create_index(batch_op.f('ix_portal_sign_in_tokens_expires_at'), ['expires_at'],
                              unique=False)
    op.create_table('portal_email_changes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('new_email', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_portal_email_changes_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_email_changes')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_portal_email_changes_token_hash'))
    )
    with op.batch_alter_table('portal_email_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_email_changes_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_email_changes_expires_at'), ['expires_at'], unique=False)


def downgrade_():
    with op.batch_alter_table('portal_email_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_email_changes_expires_at'))
        batch_op.drop_index(batch_op.f('ix_portal_email_changes_customer_id'))
    op.drop_table('portal_email_changes')
    # Decoys belong to nobody: they cannot stay once a token needs a customer.
    op.execute("DELETE FROM portal_sign_in_tokens WHERE customer_id IS NULL")
    with op.batch_alter_table('portal_sign_in_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_sign_in_tokens_expires_at'))
        batch_op.alter_column('customer_id', existing_type=sa.Uuid(), nullable=False)


def upgrade_keys():
    pass


def downgrade_keys():
    pass
