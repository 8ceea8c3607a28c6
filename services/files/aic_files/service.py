"""What the files service does; the HTTP routes and the message handlers both call this.

Order of writes, so that nothing half-written stays behind:
- upload: objects first, then the row and its event in one transaction; if that transaction fails the
  objects are deleted again. A storage outage therefore leaves no row, a database outage no object.
- delete (by a person, or for a deleted account): objects first, then the row. A failure in between
  leaves a row whose retry (the client's, or the message's redelivery) finishes the job.
- orphan sweep: the row first, only if still unattached (a post may claim the file meanwhile), then the
  objects; an object left by a storage failure there is logged.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from aic_common.bus import Outbox
from aic_common.db import for_update_skip_locked, utc_now
from aic_common.errors import Conflict, Forbidden, NotFound
from aic_common.messages import FileDeleted, FileUploaded
from aic_common.principals import Principal
from aic_files.images import EXTENSIONS, ImageLimits, ProcessedImage, process_image
from aic_files.models import FileOwner, StoredFile
from aic_files.schemas import FileMetadata, FilePublic, clean_filename
from aic_files.settings import FilesSettings
from aic_files.storage import Storage, object_key

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def display_filename(record: StoredFile) -> str:
    """The client's name with the extension of what the file really is."""
    stem = Path(record.original_filename).stem if record.original_filename else ""
    return (stem or "image") + EXTENSIONS.get(record.content_type, "")


def thumbnail_filename(record: StoredFile) -> str:
    stem = display_filename(record).rsplit(".", 1)[0]
    return f"{stem}-thumbnail{EXTENSIONS.get(record.thumbnail_content_type, '')}"


def content_disposition(filename: str) -> str:
    """``inline`` with an ASCII fallback and the UTF-8 name (RFC 6266 / 5987); no quotes or CR/LF."""
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in filename)
    return f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


@dataclass
class FilesService:
    settings: FilesSettings
    session_factory: sessionmaker[Session]
    outbox: Outbox
    storage: Storage
    clock: Clock = utc_now

    @property
    def limits(self) -> ImageLimits:
        s = self.settings
        return ImageLimits(
            max_pixels=s.max_image_pixels,
            max_frames=s.max_animation_frames,
            max_animation_pixels=s.max_animation_pixels,
            jpeg_quality=s.jpeg_quality,
            thumbnail_size=s.thumbnail_size,
        )

    # ------------------------------------------------------------------ upload

    def check_quota(self, owner_id: str, incoming_bytes: int = 0) -> None:
        """Refuse early (before the body is read) when the owner is already at a limit."""
        with self.session_factory() as session:
            self._check_quota(session, owner_id, incoming_bytes)

    def _check_quota(self, session: Session, owner_id: str, incoming_bytes: int) -> None:
        count, total = session.execute(
            sa.select(sa.func.count(StoredFile.id), sa.func.coalesce(sa.func.sum(StoredFile.size), 0)).where(
                StoredFile.owner_id == owner_id
            )
        ).one()
        if count + 1 > self.settings.quota_max_files:
            raise Conflict(
                f"You have {count} files, the most allowed; delete some first", code="quota_exceeded"
            )
        if int(total) + incoming_bytes > self.settings.quota_max_bytes:
            raise Conflict(
                f"This file would take your storage over {self.settings.quota_max_bytes:,} bytes",
                code="quota_exceeded",
            )

    def upload(self, owner_id: str, source: Path, filename: str) -> StoredFile:
        """Check, re-encode and store the image spooled at ``source`` (the caller deletes it)."""
        name = clean_filename(filename)
        work_dir = Path(tempfile.mkdtemp(prefix="process-", dir=self.settings.spool_dir))
        try:
            processed = process_image(source, work_dir, self.limits)
            self.check_quota(owner_id, processed.image.size)  # cheap, and saves a pointless write
            return self._store(owner_id, processed, name)
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)

    def _store(self, owner_id: str, processed: ProcessedImage, filename: str) -> StoredFile:
        file_id = str(uuid.uuid4())
        record = StoredFile(
            id=file_id,
            owner_id=owner_id,
            object_key=object_key("originals", file_id),
            thumbnail_key=object_key("thumbnails", file_id),
            content_type=processed.image.content_type,
            thumbnail_content_type=processed.thumbnail.content_type,
            size=processed.image.size,
            thumbnail_size=processed.thumbnail.size,
            width=processed.width,
            height=processed.height,
            sha256=processed.image.sha256,
            thumbnail_sha256=processed.thumbnail.sha256,
            original_filename=filename,
            created_at=self.clock(),
            attached_at=None,
        )
        written: list[str] = []
        try:
            self.storage.put_file(record.object_key, processed.image.path, record.content_type)
            written.append(record.object_key)
            self.storage.put_file(
                record.thumbnail_key, processed.thumbnail.path, record.thumbnail_content_type
            )
            written.append(record.thumbnail_key)
            with self.session_factory.begin() as session:
                self._lock_owner(session, owner_id)
                self._check_quota(session, owner_id, record.size)  # again, now serialised per owner
                session.add(record)
                self.outbox.add(
                    session,
                    FileUploaded(
                        file_id=file_id,
                        owner_id=owner_id,
                        content_type=record.content_type,
                        size=record.size,
                        width=record.width,
                        height=record.height,
                        sha256=record.sha256,
                    ),
                )
        except BaseException:
            self._delete_objects(written, reason="upload failed")
            raise
        return record

    def _lock_owner(self, session: Session, owner_id: str) -> None:
        """Hold the owner's row lock until commit: that owner's uploads check their quota one by one."""
        if session.get(FileOwner, owner_id, with_for_update=True) is not None:
            return
        try:
            with session.begin_nested():
                session.add(FileOwner(owner_id=owner_id, created_at=self.clock()))
        except IntegrityError:  # a concurrent first upload made it: wait for its lock instead
            pass
        session.get(FileOwner, owner_id, with_for_update=True, populate_existing=True)

    def _delete_objects(self, keys: list[str], *, reason: str) -> None:
        for key in keys:
            try:
                self.storage.delete(key)
            except Exception:
                log.exception("could not delete object %s (%s); it is orphaned", key, reason)

    # ------------------------------------------------------------------ reading

    def get(self, file_id: str) -> StoredFile:
        with self.session_factory() as session:
            record = session.get(StoredFile, file_id)
        if record is None:
            raise NotFound("No such file", code="file_not_found")
        return record

    def public(self, record: StoredFile) -> FilePublic:
        return FilePublic(
            id=record.id,
            url=f"/api/files/{record.id}",
            thumbnail_url=f"/api/files/{record.id}/thumbnail",
            content_type=record.content_type,
            size=record.size,
            width=record.width,
            height=record.height,
            filename=display_filename(record),
        )

    def metadata(self, record: StoredFile) -> FileMetadata:
        return FileMetadata(
            **self.public(record).model_dump(),
            owner_id=record.owner_id,
            sha256=record.sha256,
            thumbnail_content_type=record.thumbnail_content_type,
            created_at=record.created_at,
            attached=record.attached_at is not None,
        )

    # ------------------------------------------------------------------ deleting

    def delete(self, file_id: str, principal: Principal) -> None:
        record = self.get(file_id)
        if record.owner_id != principal.user_id and not principal.is_admin:
            raise Forbidden("Only the owner or an administrator may delete this file", code="not_owner")
        self.storage.delete(record.object_key)
        self.storage.delete(record.thumbnail_key)
        with self.session_factory.begin() as session:
            self._delete_rows(session, [file_id])

    def _delete_rows(self, session: Session, file_ids: list[str]) -> int:
        if not file_ids:
            return 0
        rows = session.execute(
            sa.select(StoredFile.id, StoredFile.owner_id).where(StoredFile.id.in_(file_ids)).with_for_update()
        ).all()
        if not rows:
            return 0
        session.execute(sa.delete(StoredFile).where(StoredFile.id.in_([row.id for row in rows])))
        for row in rows:
            self.outbox.add(session, FileDeleted(file_id=row.id, owner_id=row.owner_id))
        return len(rows)

    def delete_objects_of_owner(self, owner_id: str) -> list[str]:
        """Remove every object of ``owner_id`` (raising if storage is down); returns their file ids."""
        with self.session_factory() as session:
            rows = session.execute(
                sa.select(StoredFile.id, StoredFile.object_key, StoredFile.thumbnail_key).where(
                    StoredFile.owner_id == owner_id
                )
            ).all()
        for row in rows:
            self.storage.delete(row.object_key)
            self.storage.delete(row.thumbnail_key)
        return [row.id for row in rows]

    def delete_rows_of_owner(self, session: Session, owner_id: str, file_ids: list[str]) -> int:
        removed = self._delete_rows(session, file_ids)
        session.execute(sa.delete(FileOwner).where(FileOwner.owner_id == owner_id))
        return removed

    # ------------------------------------------------------------------ attachments and orphans

    def mark_attached(self, session: Session, file_ids: list[str]) -> int:
        """Files a post or a profile now uses: the orphan sweep leaves them alone from here on.

        Not checked against the post's author: marking only stops the sweep, it grants nothing.
        """
        if not file_ids:
            return 0
        result = session.execute(
            sa.update(StoredFile)
            .where(StoredFile.id.in_(file_ids), StoredFile.attached_at.is_(None))
            .values(attached_at=self.clock())
        )
        return result.rowcount or 0

    def sweep_orphans(self) -> int:
        """Remove uploads never attached within ``orphan_ttl_seconds``; returns how many went."""
        cutoff = self.clock() - timedelta(seconds=self.settings.orphan_ttl_seconds)
        removed = 0
        with self.session_factory.begin() as session:
            rows = session.execute(
                sa.select(StoredFile.id, StoredFile.owner_id, StoredFile.object_key, StoredFile.thumbnail_key)
                .where(StoredFile.attached_at.is_(None), StoredFile.created_at < cutoff)
                .order_by(StoredFile.created_at)
                .limit(self.settings.orphan_sweep_batch)
                .with_for_update(**for_update_skip_locked(session))
            ).all()
            if rows:
                session.execute(
                    sa.delete(StoredFile).where(
                        StoredFile.id.in_([row.id for row in rows]), StoredFile.attached_at.is_(None)
                    )
                )
                for row in rows:
                    self.outbox.add(session, FileDeleted(file_id=row.id, owner_id=row.owner_id))
                removed = len(rows)
        for row in rows:
            self._delete_objects([row.object_key, row.thumbnail_key], reason="orphan sweep")
        if removed:
            log.info("swept %d orphaned uploads", removed)
        return removed
