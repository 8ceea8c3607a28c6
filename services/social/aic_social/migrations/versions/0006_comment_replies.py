"""comments: reply_count kept on each comment, and (parent_id, deleted_at, id) indexed, so a page of
comments carries each one's first replies and their number without reading every reply"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reply_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index(
            "ix_comments_parent_id_deleted_at_id", ["parent_id", "deleted_at", "id"], unique=False
        )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "UPDATE comments SET reply_count = counted.n FROM ("
            "SELECT parent_id, COUNT(*) AS n FROM comments"
            " WHERE parent_id IS NOT NULL AND deleted_at IS NULL GROUP BY parent_id"
            ") AS counted WHERE counted.parent_id = comments.id"
        )
    else:  # MySQL/MariaDB refuse a subquery on the table an UPDATE changes, but not a join to one
        op.execute(
            "UPDATE comments JOIN ("
            "SELECT parent_id, COUNT(*) AS n FROM comments"
            " WHERE parent_id IS NOT NULL AND deleted_at IS NULL GROUP BY parent_id"
            ") AS counted ON counted.parent_id = comments.id SET comments.reply_count = counted.n"
        )


def downgrade() -> None:
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_index("ix_comments_parent_id_deleted_at_id")
        batch_op.drop_column("reply_count")
