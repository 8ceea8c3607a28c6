"""reposts (posts.repost_of_id, a quote in content, repost_count on the original), bookmarks (one row per
user and post, listed newest first), images in direct messages (messages.image_ids)"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("repost_of_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("repost_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index("ix_posts_repost_of_id", ["repost_of_id"], unique=False)
    op.create_table(
        "bookmarks",
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("post_id", sa.BigInteger(), primary_key=True),
        sa.Column("created_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=False),
    )
    op.create_index("ix_bookmarks_user_id_created_at", "bookmarks", ["user_id", "created_at"], unique=False)
    op.create_index("ix_bookmarks_post_id", "bookmarks", ["post_id"], unique=False)
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("image_ids", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("image_ids")
    op.drop_index("ix_bookmarks_post_id", table_name="bookmarks")
    op.drop_index("ix_bookmarks_user_id_created_at", table_name="bookmarks")
    op.drop_table("bookmarks")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_index("ix_posts_repost_of_id")
        batch_op.drop_column("repost_count")
        batch_op.drop_column("repost_of_id")
