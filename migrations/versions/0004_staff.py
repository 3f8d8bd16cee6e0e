"""staff accounts

Revision ID: 0004_staff
Revises: 0003_audit
Create Date: 2026-11-23

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_staff'
down_revision = '0003_audit'
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    # Staff email and name are personal data: only ciphertext (under each
    # staff member's own data key) and a blind index of the email are stored.
    op.create_table('staff_users',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('email_index', sa.String(length=80), nullable=False),
    sa.Column('role', sa.Enum('agent', 'dpo', 'admin', name='staffrole', native_enum=False, length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('totp_enrolled', sa.Boolean(), nullable=False),
    sa.Column('totp_last_step', sa.BigInteger(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_sign_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deactivated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('email', sa.LargeBinary(), nullable=True),
    sa.Column('display_name', sa.LargeBinary(), nullable=True),
    sa.Column('totp_secret', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_users')),
    sa.UniqueConstraint('email_index', name=op.f('uq_staff_users_email_index'))
    )
    op.create_table('staff_password_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('staff_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_staff_password_tokens_staff_id_staff_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_staff_password_tokens'))
    )
    with op.batch_alter_table('staff_password_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_password_tokens_staff_id'), ['staff_id'], unique=False)


def downgrade_():
    with op.batch_alter_table('staff_password_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_password_tokens_staff_id'))

    op.drop_table('staff_password_tokens')
    op.drop_table('staff_users')


def upgrade_keys():
    pass


def downgrade_keys():
    pass
