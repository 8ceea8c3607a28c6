"""The auth service's tables: accounts, refresh tokens, sign-in throttling, recent deletions."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aic_common.db import BigIntId, new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(32))
    # Lower-cased copies carry the uniqueness, so "Alice" and "alice" are one name on every backend.
    username_key: Mapped[str] = mapped_column(sa.String(32), unique=True)
    email: Mapped[str | None] = mapped_column(sa.String(254))
    email_key: Mapped[str | None] = mapped_column(sa.String(254), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(64))
    # None for AI characters: they have no password and cannot sign in.
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16), default="user")
    is_ai: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime)


class RefreshToken(Base):
    """One row per issued refresh token; a family is one sign-in and all its rotations."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)  # SHA-256 of the opaque token
    family_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    user_id: Mapped[str] = mapped_column(
        sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)
    # Indexed for the retention sweep, which deletes tokens long expired (aic_auth.retention).
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(sa.DateTime)  # rotated: presenting it again is reuse
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime)


class LoginThrottle(Base):
    """Failed sign-ins counted per key (an account name or a client address) in fixed windows."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(sa.String(300), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(sa.DateTime, index=True)  # ended windows are swept
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)


class DeletedAccount(Base):
    """An account deleted within the longest access-token lifetime: every service refuses its tokens, and
    one that starts after the deletion learns of it here (aic_common.deleted_accounts). Written in the
    deletion's transaction; the retention sweep lets it go once no token of the account can be alive."""

    __tablename__ = "deleted_accounts"

    user_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    deleted_at: Mapped[datetime] = mapped_column(sa.DateTime, index=True)
