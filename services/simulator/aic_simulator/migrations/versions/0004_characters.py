"""Characters that behave like people: event kinds, memory audiences, plans, conversations, people's names;
relationships keyed by account id only (rows naming an agent id move to its account id)"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("game_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="gathering"))
    with op.batch_alter_table("memories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audience", sa.String(48), nullable=False, server_default="public"))
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("plan", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("plan_day", sa.String(10), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("conversation_id", sa.String(40), nullable=True))
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("a", sa.String(64), nullable=False),
        sa.Column("b", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("budget", sa.Integer(), nullable=False),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("speaker", sa.String(64), nullable=True),
        sa.Column("last_line", sa.String(500), nullable=False),
        sa.Column("location_id", sa.String(64), nullable=True),
        sa.Column("started_at", Timestamp, nullable=False),
        sa.Column("last_at", Timestamp, nullable=False),
        sa.Column("ended_at", Timestamp, nullable=True),
    )
    op.create_index("ix_conversations_ended_at", "conversations", ["ended_at"])
    op.create_table(
        "known_people",
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("username", sa.String(32), nullable=False),
        sa.Column("display_name", sa.String(64), nullable=False),
    )
    # A relationship with a character that has an account is kept under the account id (the engine used
    # agent ids for talk and account ids for messages: one relationship was two).
    bind = op.get_bind()
    accounts = dict(bind.execute(sa.text("SELECT id, user_id FROM agents WHERE user_id IS NOT NULL")).all())
    rows = bind.execute(sa.text("SELECT agent_id, other, affinity, interactions FROM relationships")).all()
    kept = {(r.agent_id, r.other): r for r in rows}
    for row in rows:
        account = accounts.get(row.other)
        if account is None:
            continue
        key = {"agent_id": row.agent_id, "other": row.other, "account": account}
        if (row.agent_id, account) in kept:  # both: keep the account's row, with what the other had
            merged = kept[(row.agent_id, account)]
            bind.execute(
                sa.text(
                    "UPDATE relationships SET affinity = :affinity, interactions = :interactions "
                    "WHERE agent_id = :agent_id AND other = :account"
                ),
                {
                    **key,
                    "affinity": max(row.affinity, merged.affinity),
                    "interactions": row.interactions + merged.interactions,
                },
            )
            bind.execute(
                sa.text("DELETE FROM relationships WHERE agent_id = :agent_id AND other = :other"), key
            )
        else:
            bind.execute(
                sa.text(
                    "UPDATE relationships SET other = :account WHERE agent_id = :agent_id AND other = :other"
                ),
                key,
            )


def downgrade() -> None:
    op.drop_table("known_people")
    op.drop_index("ix_conversations_ended_at", table_name="conversations")
    op.drop_table("conversations")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("conversation_id")
        batch_op.drop_column("plan_day")
        batch_op.drop_column("plan")
    with op.batch_alter_table("memories", schema=None) as batch_op:
        batch_op.drop_column("audience")
    with op.batch_alter_table("game_events", schema=None) as batch_op:
        batch_op.drop_column("kind")
