"""What the auth service consumes from the bus."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from aic_auth.service import AuthService
from aic_common.bus import Bus, apply_once_async, on_commands
from aic_common.errors import AppError
from aic_common.messages import CreateAiAccount, Envelope, parse_data

log = logging.getLogger(__name__)


def register_consumers(bus: Bus, service: AuthService) -> None:
    async def on_create_ai_account(envelope: Envelope) -> None:
        command = parse_data(envelope, CreateAiAccount)

        def apply(session: Session, _: Envelope) -> None:
            service.create_ai_account(
                session, username=command.username, display_name=command.display_name, bio=command.bio
            )

        try:
            await apply_once_async(service.session_factory, "auth.ai-accounts", envelope, apply)
        except AppError as exc:
            # A command that can never succeed (a taken or invalid name) is dropped, not retried.
            log.error("create_ai_account %s refused: %s", command.username, exc.detail)

    bus.subscribe("auth.ai-accounts", on_commands(CreateAiAccount.message_type), on_create_ai_account)
