"""published privacy policy versions and purposes

Revision ID: 0002_policies
Revises: 0001_customers
Create Date: 2026-11-23

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002_policies'
down_revision = '0001_customers'
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    op.create_table('policy_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('effective_date', sa.Date(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=255), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_by', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_versions')),
    sa.UniqueConstraint('effective_date', name=op.f('uq_policy_versions_effective_date')),
    sa.UniqueConstraint('version', name=op.f('uq_policy_versions_version'))
    )
    op.create_table('policy_purposes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_version_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('legal_basis', sa.String(length=32), nullable=False),
    sa.Column('notice_hash', sa.String(length=64), nullable=False),
    sa.Column('sale_or_share', sa.Boolean(), nullable=False),
    sa.Column('direct_marketing', sa.Boolean(), nullable=False),
    sa.Column('change_kind', sa.Enum('new', 'unchanged', 'materially-changed', name='purposechangekind', native_enum=False, length=32), nullable=False),
    sa.Column('changed_fields', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['policy_version_id'], ['policy_versions.id'], name=op.f('fk_policy_purposes_policy_version_id_policy_versions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_purposes')),
    sa.UniqueConstraint('policy_version_id', 'slug', name=op.f('uq_policy_purposes_policy_version_id'))
    )
    with op.batch_alter_table('policy_purposes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_purposes_notice_hash'), ['notice_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_policy_purposes_slug'), ['slug'], unique=False)


def downgrade_():
    with op.batch_alter_table('policy_purposes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_purposes_slug'))
        batch_op.drop_index(batch_op.f('ix_policy_purposes_notice_hash'))

    op.drop_table('policy_purposes')
    op.drop_table('policy_versions')


def upgrade_keys():
    pass


def downgrade_keys():
    pass
