"""Typed command results: action_logs.result holds applied or rejected, result_detail the event social
answered with or the code it refused with (it was one text, "applied: post.created", "rejected: <code>")"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

action_logs = sa.table("action_logs", sa.column("result", sa.String), sa.column("result_detail", sa.String))
result, detail = action_logs.c.result, action_logs.c.result_detail


def upgrade() -> None:
    with op.batch_alter_table("action_logs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("result_detail", sa.String(length=120), nullable=True))
    # Two statements each: in one, MariaDB's later assignment would read the result already replaced.
    for kind in ("applied", "rejected"):
        prefix = f"{kind}:"
        was = result.like(f"{prefix}%")
        op.execute(
            action_logs.update()
            .where(was)
            .values(result_detail=sa.func.trim(sa.func.substr(result, len(prefix) + 1)))
        )
        op.execute(action_logs.update().where(was).values(result=kind))
    # The old code wrote nothing else; any other text was an answer, so it is kept as what was applied.
    other = sa.and_(result.is_not(None), result.not_in(["applied", "rejected"]))
    op.execute(action_logs.update().where(other).values(result_detail=sa.func.substr(result, 1, 120)))
    op.execute(action_logs.update().where(other).values(result="applied"))
    with op.batch_alter_table("action_logs", schema=None) as batch_op:
        # A VARCHAR, as the model's non-native Enum (CommandResult) is.
        batch_op.alter_column(
            "result", existing_type=sa.String(length=120), type_=sa.String(length=16), existing_nullable=True
        )


def downgrade() -> None:
    with op.batch_alter_table("action_logs", schema=None) as batch_op:
        batch_op.alter_column(
            "result", existing_type=sa.String(length=16), type_=sa.String(length=120), existing_nullable=True
        )
    op.execute(
        action_logs.update()
        .where(result.is_not(None))
        .values(result=sa.func.substr(result + ": " + sa.func.coalesce(detail, ""), 1, 120))
    )
    with op.batch_alter_table("action_logs", schema=None) as batch_op:
        batch_op.drop_column("result_detail")
