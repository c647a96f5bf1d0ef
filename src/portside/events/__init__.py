"""The internal event bus: how services tell each other what happened (S3 → EventBridge, …)."""

from portside.events.bus import BusEvent, EventBus

__all__ = ["BusEvent", "EventBus"]
