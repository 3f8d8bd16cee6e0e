"""The breach register (GDPR Art. 33/34)

Revision ID: 0021_breach_register
Revises: 0020_dashboard_aggregates
Create Date: 2026-11-28

``breaches`` holds the register; every free-text column is ciphertext under
the entry's own data key. ``breach_recipients`` lists, by id, the customers
mailed about each breach, so nobody is told twice. ``breach_notice_runs``
records each request to tell customers (the staff account, the window, who
asked, when: ids and times only) and how far the worker got.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0021_breach_register'
down_revision = '0020_dashboard_aggregates'
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    op.create_table(
        'breaches',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('discovered_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('recorded_by', sa.String(length=128), nullable=False),
        sa.Column('approx_people', sa.Integer(), nullable=False),
        sa.Column('authority_notified_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('customer_notice', sa.Enum('undecided', 'required', 'not-required',
                                             name='customernotice', native_enum=False,
                                             length=16, create_constraint=False),
                  nullable=False),
        sa.Column('customers_notified_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('customers_notified', sa.Integer(), nullable=False),
        sa.Column('description', sa.LargeBinary(), nullable=True),
        sa.Column('data_categories', sa.LargeBinary(), nullable=True),
        sa.Column('consequences', sa.LargeBinary(), nullable=True),
        sa.Column('measures', sa.LargeBinary(), nullable=True),
        sa.Column('authority_reference', sa.LargeBinary(), nullable=True),
        sa.Column('notice_reason', sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_breaches')),
    )
    with op.batch_alter_table('breaches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_breaches_discovered_at'), ['discovered_at'],
                              unique=False)
    op.create_table(
        'breach_recipients',
        sa.Column('breach_id', sa.Uuid(), nullable=False),
        sa.Column('customer_id', sa.Uuid(), nullable=False),
        sa.Column('notified_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['breach_id'], ['breaches.id'],
                                name=op.f('fk_breach_recipients_breach_id_breaches'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                                name=op.f('fk_breach_recipients_customer_id_customers'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('breach_id', 'customer_id', name=op.f('pk_breach_recipients')),
    )
    with op.batch_alter_table('breach_recipients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_breach_recipients_customer_id'), ['customer_id'],
                              unique=False)
    op.create_table(
        'breach_notice_runs',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('breach_id', sa.Uuid(), nullable=False),
        sa.Column('staff_account_id', sa.Uuid(), nullable=False),
        sa.Column('since', sa.DateTime(timezone=True), nullable=False),
        sa.Column('until', sa.DateTime(timezone=True), nullable=False),
        sa.Column('requested_by', sa.String(length=128), nullable=False),
        sa.Column('requested_role', sa.String(length=32), nullable=True),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('request_id', sa.String(length=64), nullable=True),
        sa.Column('selected', sa.Integer(), nullable=True),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('mailed', sa.Integer(), nullable=False),
        sa.Column('already_told', sa.Integer(), nullable=False),
        sa.Column('unreachable', sa.Integer(), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['breach_id'], ['breaches.id'],
                                name=op.f('fk_breach_notice_runs_breach_id_breaches'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_breach_notice_runs')),
    )
    with op.batch_alter_table('breach_notice_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_breach_notice_runs_breach_id'), ['breach_id'],
                              unique=False)


def downgrade_():
    with op.batch_alter_table('breach_notice_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_breach_notice_runs_breach_id'))
    op.drop_table('breach_notice_runs')
    with op.batch_alter_table('breach_recipients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_breach_recipients_customer_id'))
    op.drop_table('breach_recipients')
    with op.batch_alter_table('breaches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_breaches_discovered_at'))
    op.drop_table('breaches')


def upgrade_keys():
    pass


def downgrade_keys():
    pass
