"""explore_rankings: the explore feed's ranking is made at most once per interval and kept"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "explore_rankings",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("ranked_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=False),
        sa.Column("post_ids", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_explore_rankings")),
    )
    with op.batch_alter_table("explore_rankings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_explore_rankings_ranked_at"), ["ranked_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("explore_rankings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_explore_rankings_ranked_at"))
    op.drop_table("explore_rankings")
