"""deleted_accounts: a tombstone per deleted account, written in the deletion's transaction and kept as
long as an access token can live, which every service loads when it starts (aic_common.deleted_accounts)"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deleted_accounts",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_deleted_accounts")),
    )
    with op.batch_alter_table("deleted_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deleted_accounts_deleted_at"), ["deleted_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deleted_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deleted_accounts_deleted_at"))
    op.drop_table("deleted_accounts")
