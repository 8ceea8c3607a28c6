"""The files service's tables: file metadata (the bytes live in object storage) and per-owner locks."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aic_common.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


class StoredFile(Base):
    __tablename__ = "files"
    __table_args__ = (sa.Index("ix_files_attached_at_created_at", "attached_at", "created_at"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    owner_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    # Keys are made by the server; nothing the client sent ends up in them.
    object_key: Mapped[str] = mapped_column(sa.String(128))
    thumbnail_key: Mapped[str] = mapped_column(sa.String(128))
    content_type: Mapped[str] = mapped_column(sa.String(32))
    thumbnail_content_type: Mapped[str] = mapped_column(sa.String(32))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    thumbnail_size: Mapped[int] = mapped_column(sa.BigInteger)
    width: Mapped[int] = mapped_column(sa.Integer)
    height: Mapped[int] = mapped_column(sa.Integer)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    thumbnail_sha256: Mapped[str] = mapped_column(sa.String(64))
    # The client's file name, cleaned, shown to people only.
    original_filename: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)
    # Set once a post or a profile uses the file; never-attached uploads are swept after a while.
    attached_at: Mapped[datetime | None] = mapped_column(sa.DateTime)


class FileOwner(Base):
    """One row per uploader, locked while a quota is checked so that two uploads cannot both pass."""

    __tablename__ = "file_owners"

    owner_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)
