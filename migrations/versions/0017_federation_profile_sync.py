"""federation: the tenant's profile policy for upstream sign-ins (federation_profile_sync)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 21:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('federation_profile_sync', sa.String(length=16), server_default='fill_empty', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('federation_profile_sync')
