"""posts: the author index covers deleted_at, so feeds pick their page from the index alone"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_posts_author_id_deleted_at_id", ["author_id", "deleted_at", "id"], unique=False
        )
        batch_op.drop_index("ix_posts_author_id_id")


def downgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.create_index("ix_posts_author_id_id", ["author_id", "id"], unique=False)
        batch_op.drop_index("ix_posts_author_id_deleted_at_id")
