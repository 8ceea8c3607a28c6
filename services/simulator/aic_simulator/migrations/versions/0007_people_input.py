"""people_input: what people did that the characters took in, in a recorded run, with the step it came
at, for a replay to give them again (aic_simulator.people)"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "people_input",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people_input")),
        sa.UniqueConstraint("key", name=op.f("uq_people_input_key")),
    )
    # What is still to be given to the characters, by step (a replay's or a fork's).
    op.create_index("ix_people_input_delivered_step", "people_input", ["delivered", "step"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_people_input_delivered_step", table_name="people_input")
    op.drop_table("people_input")
