"""The message bus: one interface, two transports (RabbitMQ and in-process), outbox and inbox."""

from aic_common.bus.base import (
    COMMANDS,
    CONTROL,
    EVENTS,
    Binding,
    Bus,
    BusUnavailable,
    DependencyUnavailable,
    Handler,
    on_commands,
    on_control,
    on_events,
    topic_matches,
)
from aic_common.bus.inbox import BatchingInbox, apply_once, apply_once_async, claim_message
from aic_common.bus.inprocess import InProcessBus
from aic_common.bus.outbox import Outbox, OutboxRelay
from aic_common.settings import ServiceSettings

__all__ = [
    "COMMANDS",
    "CONTROL",
    "EVENTS",
    "BatchingInbox",
    "Binding",
    "Bus",
    "BusUnavailable",
    "DependencyUnavailable",
    "Handler",
    "InProcessBus",
    "Outbox",
    "OutboxRelay",
    "apply_once",
    "apply_once_async",
    "claim_message",
    "create_bus",
    "on_commands",
    "on_control",
    "on_events",
    "topic_matches",
]


def create_bus(settings: ServiceSettings, *, shared_inprocess: InProcessBus | None = None) -> Bus:
    """RabbitMQ when ``AIC_BROKER_URL`` is set; otherwise the in-process transport.

    In embedded mode every service in the process must share one in-process bus, passed in here.
    """
    url = settings.broker_url.get_secret_value()
    if url:
        from aic_common.bus.rabbit import RabbitBus

        return RabbitBus(
            url,
            settings.bus_namespace,
            delivery_limit=settings.bus_delivery_limit,
            prefetch=settings.bus_prefetch,
            app_id=settings.service_name,
        )
    if shared_inprocess is not None:
        return shared_inprocess
    return InProcessBus(settings.bus_namespace, delivery_limit=settings.bus_delivery_limit)
