"""llm_answers: every exchange with the LLM server a recorded run made, for replaying it (recording.py)"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "llm_answers",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("branch", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("body", sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql"), nullable=False),
        sa.Column("created_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_answers")),
        sa.UniqueConstraint("branch", "key", "occurrence", name=op.f("uq_llm_answers_branch_key_occurrence")),
    )
    with op.batch_alter_table("llm_answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_llm_answers_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("llm_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_llm_answers_created_at"))
    op.drop_table("llm_answers")
