"""What the files service consumes from the bus, and its periodic orphan sweep."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from aic_common.bus import Bus, apply_once_async, on_events
from aic_common.db import run_in_thread
from aic_common.messages import Envelope, PostCreated, ProfileUpdated, UserDeleted, parse_data
from aic_common.periodic import PeriodicTask
from aic_files.service import FilesService

log = logging.getLogger(__name__)

USER_DELETED_QUEUE = "files.user-deleted"
ATTACHMENTS_QUEUE = "files.attachments"


def register_consumers(bus: Bus, service: FilesService) -> None:
    async def on_user_deleted(envelope: Envelope) -> None:
        event = parse_data(envelope, UserDeleted)
        # Objects before rows, so the rows are still there to say which objects to remove when this
        # raises. Storage out of reach raises StorageUnreachable: the bus holds the message until the
        # storage is back (a user.deleted must not reach the DLQ and leave objects behind for good).
        file_ids = await run_in_thread(service.delete_objects_of_owner, event.user_id)

        def apply(session: Session, _: Envelope) -> None:
            removed = service.delete_rows_of_owner(session, event.user_id, file_ids)
            log.info("removed %d files of deleted user %s", removed, event.user_id)

        await apply_once_async(service.session_factory, USER_DELETED_QUEUE, envelope, apply)

    async def on_attached(envelope: Envelope) -> None:
        if envelope.type == PostCreated.message_type:
            file_ids = parse_data(envelope, PostCreated).image_ids
        else:
            avatar = parse_data(envelope, ProfileUpdated).avatar_file_id
            file_ids = [avatar] if avatar else []
        if not file_ids:
            return

        def apply(session: Session, _: Envelope) -> None:
            service.mark_attached(session, file_ids)

        await apply_once_async(service.session_factory, ATTACHMENTS_QUEUE, envelope, apply)

    bus.subscribe(USER_DELETED_QUEUE, on_events(UserDeleted.message_type), on_user_deleted)
    bus.subscribe(
        ATTACHMENTS_QUEUE, on_events(PostCreated.message_type, ProfileUpdated.message_type), on_attached
    )


class OrphanSweeper:
    """Runs :meth:`FilesService.sweep_orphans` every ``interval_seconds`` while the app runs."""

    def __init__(self, service: FilesService, interval_seconds: float) -> None:
        self.service = service
        self._schedule = PeriodicTask("orphan sweep", interval_seconds, self._sweep_all)

    async def start(self) -> None:
        await self._schedule.start()

    async def stop(self) -> None:
        await self._schedule.stop()

    async def run_once(self) -> int:
        return await run_in_thread(self.service.sweep_orphans)

    async def _sweep_all(self) -> None:
        # A full batch means more are waiting: go on without sleeping.
        while await self.run_once() >= self.service.settings.orphan_sweep_batch:
            pass
