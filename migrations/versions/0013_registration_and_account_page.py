"""registration and the account page: profile attributes, sign-in and deletion policies, pictures

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 17:45:00
"""

import sqlalchemy as sa
from alembic import op

import idp.models.base

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('user_pictures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', idp.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_user_pictures_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_pictures_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_pictures')),
    sa.UniqueConstraint('public_id', name=op.f('uq_user_pictures_public_id')),
    sa.UniqueConstraint('user_id', name=op.f('uq_user_pictures_user_id'))
    )
    with op.batch_alter_table('user_pictures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_pictures_tenant_id'), ['tenant_id'], unique=False)
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unverified_sign_in', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('account_deletion', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('profile_attributes', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attributes', sa.JSON(), server_default=sa.text("'{}'"), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('attributes')
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('profile_attributes')
        batch_op.drop_column('account_deletion')
        batch_op.drop_column('unverified_sign_in')
    with op.batch_alter_table('user_pictures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_pictures_tenant_id'))
    op.drop_table('user_pictures')
