"""seen_comments and seen_likes: the comments and likes the characters read"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seen_comments",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("comment_id", sa.String(length=20), nullable=False),
        sa.Column("post_id", sa.String(length=20), nullable=False),
        sa.Column("author_id", sa.String(length=36), nullable=False),
        sa.Column("author_username", sa.String(length=32), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seen_comments")),
        sa.UniqueConstraint("comment_id", name=op.f("uq_seen_comments_comment_id")),
    )
    with op.batch_alter_table("seen_comments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seen_comments_post_id"), ["post_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_seen_comments_created_at"), ["created_at"], unique=False)

    op.create_table(
        "seen_likes",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("post_id", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seen_likes")),
        sa.UniqueConstraint("post_id", "user_id", name=op.f("uq_seen_likes_post_id_user_id")),
    )
    with op.batch_alter_table("seen_likes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seen_likes_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("seen_likes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seen_likes_created_at"))
    op.drop_table("seen_likes")
    with op.batch_alter_table("seen_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seen_comments_created_at"))
        batch_op.drop_index(batch_op.f("ix_seen_comments_post_id"))
    op.drop_table("seen_comments")
