"""The running portside: settings, store, blob store, keyring and the services, wired once."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from portside.auth.identity import Keyring
from portside.config import Settings
from portside.events import EventBus
from portside.services.base import PlannedService, Service
from portside.services.cloudtrail.api import CloudTrail
from portside.services.ecr.api import Ecr
from portside.services.ecs.api import Ecs
from portside.services.events.api import Events
from portside.services.iam.api import Iam
from portside.services.logs.api import Logs
from portside.services.s3.api import S3
from portside.services.secretsmanager.api import SecretsManager
from portside.services.sqs.api import Sqs
from portside.services.ssm.api import Ssm
from portside.services.sts.api import Sts
from portside.store import BlobStore, Store

SERVICES: tuple[type[Service], ...] = (Iam, Sts, S3, Sqs, Ecs, Ecr, Events, SecretsManager,
                                       Ssm, CloudTrail, Logs)

# In portside's plan, not built yet: every operation answers 501 NotImplemented.
PLANNED = ("eks",)


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store.in_directory(settings.data_dir)
        self.blobs = BlobStore(settings.data_dir / "blobs")
        self.keyring = Keyring(settings.root_keys)
        self.bus = EventBus(self.store)
        self._tasks: list[asyncio.Task] = []
        self.services: dict[str, Service] = {cls.name: cls(self) for cls in SERVICES}
        for name in PLANNED:
            self.services.setdefault(name, PlannedService(self, name))
        self.store.migrate()
        for service in self.services.values():
            service.start()

    @property
    def trail(self) -> CloudTrail:
        return self.services["cloudtrail"]  # type: ignore[return-value]

    def start_background(self) -> None:
        """Start the work that runs beside requests: event delivery, services' own loops."""
        work: list[Coroutine[Any, Any, None]] = [self.bus.run()]
        for service in self.services.values():
            work += service.background()
        self._tasks = [asyncio.create_task(w) for w in work]

    async def stop_background(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def reset(self) -> None:
        """Wipe every service's state: the test suite's clean slate."""
        self.trail.flush()
        self.store.reset()
        self.blobs.reset()
        self.bus.reset()
        for service in self.services.values():
            service.reset()

    def close(self) -> None:
        self.trail.flush()
        self.store.close()
