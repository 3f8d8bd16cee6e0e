"""Background jobs and their schedules, shared by every worker

Revision ID: 0011_jobs
Revises: 0010_email_changes
Create Date: 2026-11-28

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_jobs'
down_revision = '0010_email_changes'
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    # payload holds ids only, never personal data (consentmgr/jobs/models.py).
    op.create_table('jobs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('run_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        # Only open jobs are looked for: done and failed ones stay out of the index.
        batch_op.create_index('ix_jobs_open_run_after', ['run_after'], unique=False,
                              postgresql_where=sa.text('finished_at IS NULL AND failed_at IS NULL'),
                              sqlite_where=sa.text('finished_at IS NULL AND failed_at IS NULL'))
        batch_op.create_index('ix_jobs_finished_at', ['finished_at'], unique=False)
    op.create_table('job_schedules',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_job_schedules'))
    )


def downgrade_():
    op.drop_table('job_schedules')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_finished_at')
        batch_op.drop_index('ix_jobs_open_run_after')
    op.drop_table('jobs')


def upgrade_keys():
    pass


def downgrade_keys():
    pass
