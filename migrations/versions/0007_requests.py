"""Data-subject requests and legal holds; customers kept for a legal obligation

Revision ID: 0007_requests
Revises: 0006_api
Create Date: 2026-12-01

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_requests'
down_revision = '0006_api'
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    op.create_table('data_subject_requests',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('type', sa.Enum('access', 'portability', 'rectification', 'erasure', 'restriction', 'objection', name='requesttype', native_enum=False, length=16), nullable=False),
    sa.Column('status', sa.Enum('received', 'awaiting-identity', 'in-progress', 'completed', 'refused', 'withdrawn', name='requeststatus', native_enum=False, length=20), nullable=False),
    sa.Column('channel', sa.Enum('portal', 'staff', 'api', name='channel', native_enum=False, length=16), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('extended_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('handled_by', sa.String(length=128), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('refusal_reason', sa.Enum('identity-not-verified', 'manifestly-unfounded', 'legal-obligation', 'legal-claims', 'other', name='refusalreason', native_enum=False, length=32), nullable=True),
    sa.Column('notes', sa.LargeBinary(), nullable=True),
    sa.Column('explanation', sa.LargeBinary(), nullable=True),
    sa.Column('extension_reason', sa.LargeBinary(), nullable=True),
    sa.Column('identity_check', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_data_subject_requests_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_subject_requests'))
    )
    with op.batch_alter_table('data_subject_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_subject_requests_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_data_subject_requests_status_due', ['status', 'due_at'], unique=False)

    op.create_table('legal_holds',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('exception', sa.Enum('identity-not-verified', 'manifestly-unfounded', 'legal-obligation', 'legal-claims', 'other', name='refusalreason', native_enum=False, length=32), nullable=False),
    sa.Column('placed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('placed_by', sa.String(length=128), nullable=False),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lifted_by', sa.String(length=128), nullable=True),
    sa.Column('note', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_legal_holds_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_holds'))
    )
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_legal_holds_customer_id'), ['customer_id'], unique=False)

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retained_until', sa.DateTime(timezone=True), nullable=True))


def downgrade_():
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('retained_until')
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_legal_holds_customer_id'))
    op.drop_table('legal_holds')
    with op.batch_alter_table('data_subject_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_data_subject_requests_status_due')
        batch_op.drop_index(batch_op.f('ix_data_subject_requests_customer_id'))
    op.drop_table('data_subject_requests')


def upgrade_keys():
    pass


def downgrade_keys():
    pass
