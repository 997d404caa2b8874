"""federation: upstream identities, GitHub endpoints, extra audiences, first-party clients

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 20:47:23.659620
"""

import sqlalchemy as sa
from alembic import op

import idp.models.base

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('federated_identities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.Text(), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('email_verified', sa.Boolean(), nullable=False),
    sa.Column('created_at', idp.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', idp.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['provider_id'], ['upstream_providers.id'], name=op.f('fk_federated_identities_provider_id_upstream_providers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_federated_identities_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_federated_identities_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_federated_identities')),
    sa.UniqueConstraint('tenant_id', 'issuer', 'subject', name=op.f('uq_federated_identities_tenant_id_issuer_subject'))
    )
    with op.batch_alter_table('federated_identities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_federated_identities_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_federated_identities_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_federated_identities_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_party', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('upstream_providers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('authorization_endpoint', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('token_endpoint', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('api_base_url', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('allowed_audiences', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
        batch_op.add_column(sa.Column('icon_uri', sa.Text(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('upstream_providers', schema=None) as batch_op:
        batch_op.drop_column('icon_uri')
        batch_op.drop_column('allowed_audiences')
        batch_op.drop_column('api_base_url')
        batch_op.drop_column('token_endpoint')
        batch_op.drop_column('authorization_endpoint')

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('first_party')

    with op.batch_alter_table('federated_identities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_federated_identities_user_id'))
        batch_op.drop_index(batch_op.f('ix_federated_identities_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_federated_identities_provider_id'))

    op.drop_table('federated_identities')
