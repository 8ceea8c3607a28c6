"""seen_posts.created_at and stimuli.received_at indexed: the retention sweep finds old rows by them"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("seen_posts", schema=None) as batch_op:
        batch_op.create_index("ix_seen_posts_created_at", ["created_at"], unique=False)
    with op.batch_alter_table("stimuli", schema=None) as batch_op:
        batch_op.create_index("ix_stimuli_received_at", ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stimuli", schema=None) as batch_op:
        batch_op.drop_index("ix_stimuli_received_at")
    with op.batch_alter_table("seen_posts", schema=None) as batch_op:
        batch_op.drop_index("ix_seen_posts_created_at")
