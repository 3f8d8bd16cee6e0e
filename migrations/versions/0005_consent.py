"""consent ledger and portal sign-in

Revision ID: 0005_consent
Revises: 0004_staff
Create Date: 2026-11-23

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_consent'
down_revision = '0004_staff'
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    op.create_table('consent_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('action', sa.Enum('granted', 'withdrawn', 'refused', 'objected', name='consentaction', native_enum=False, length=16), nullable=False),
    sa.Column('status', sa.Enum('given', 'withdrawn', 'refused', 'expired', 'renewal-required', 'objected', 'not-given', 'not-required', name='consentstatus', native_enum=False, length=32), nullable=False),
    sa.Column('policy_version', sa.String(length=64), nullable=False),
    sa.Column('notice_hash', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.Enum('portal', 'staff', 'api', 'import', name='channel', native_enum=False, length=16), nullable=False),
    sa.Column('actor_type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=64), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('collected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('gpc', sa.Boolean(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('audit_sequence', sa.BigInteger(), nullable=False),
    sa.Column('note', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_consent_events_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_events')),
    sa.UniqueConstraint('audit_sequence', name=op.f('uq_consent_events_audit_sequence'))
    )
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.create_index('ix_consent_events_customer_purpose', ['customer_id', 'purpose'], unique=False)

    op.create_table('consent_states',
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Enum('given', 'withdrawn', 'refused', 'expired', 'renewal-required', 'objected', 'not-given', 'not-required', name='consentstatus', native_enum=False, length=32), nullable=False),
    sa.Column('policy_version', sa.String(length=64), nullable=False),
    sa.Column('notice_hash', sa.String(length=64), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_consent_states_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', 'purpose', name=op.f('pk_consent_states'))
    )
    if op.get_bind().dialect.name == "postgresql":
        # The ledger is append-only for everyone, not just for our ORM code.
        op.execute("""
            CREATE FUNCTION consent_events_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'consent_events is append-only (% refused)', TG_OP;
            END;
            $$ LANGUAGE plpgsql
        """)
        op.execute("""
            CREATE TRIGGER consent_events_append_only
            BEFORE UPDATE OR DELETE ON consent_events
            FOR EACH ROW EXECUTE FUNCTION consent_events_append_only()
        """)
    # Portal sign-in links: only the SHA-256 of each token is stored.
    op.create_table('portal_sign_in_tokens',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_portal_sign_in_tokens_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_sign_in_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_portal_sign_in_tokens_token_hash'))
    )
    with op.batch_alter_table('portal_sign_in_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_sign_in_tokens_customer_id'), ['customer_id'], unique=False)
    # ### end Alembic commands ###


def downgrade_():
    with op.batch_alter_table('portal_sign_in_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_sign_in_tokens_customer_id'))
    op.drop_table('portal_sign_in_tokens')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS consent_events_append_only ON consent_events")
        op.execute("DROP FUNCTION IF EXISTS consent_events_append_only()")
    op.drop_table('consent_states')
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.drop_index('ix_consent_events_customer_purpose')
    op.drop_table('consent_events')


def upgrade_keys():
    pass


def downgrade_keys():
    pass
