"""Policy documents per language

Revision ID: 0024_policy_languages
Revises: 0023_policy_notices
Create Date: 2026-11-28

``policy_translations`` holds a published version's document in each
language other than English (the canonical text stays in
``policy_versions``), with each purpose's notice hash in that language.
``consent_events.language`` is the language of the notice a choice was made
under; every event recorded before this revision was made under the English
notice, hence the server default.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0024_policy_languages'
down_revision = '0023_policy_notices'
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    op.create_table(
        'policy_translations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('policy_version_id', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('document', sa.JSON(), nullable=False),
        sa.Column('notices', sa.JSON(), nullable=False),
        sa.Column('source', sa.String(length=255), nullable=False),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('published_by', sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ['policy_version_id'], ['policy_versions.id'],
            name=op.f('fk_policy_translations_policy_version_id_policy_versions'),
            ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_translations')),
        sa.UniqueConstraint('policy_version_id', 'language',
                            name=op.f('uq_policy_translations_policy_version_id')),
    )
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=False,
                                      server_default='en'))


def downgrade_():
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.drop_column('language')
    op.drop_table('policy_translations')


def upgrade_keys():
    pass


def downgrade_keys():
    pass
