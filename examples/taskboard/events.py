"""What the taskboard does with its outbox events: log them and count them.

The count is the ``taskboard_tasks_created_total`` metric at ``/metrics``; it
moves when a relay (``bastion outbox relay``, or one in the app with
``BASTION_OUTBOX__RELAY_IN_APP=true``) delivers ``task.created``.
"""

from __future__ import annotations

import structlog
from prometheus_client import Counter

from bastion.ops.metrics import Metrics
from bastion.outbox import Message

log = structlog.get_logger("taskboard")


class TaskEvents:
    """Handlers of the taskboard's outbox topics."""

    def __init__(self) -> None:
        self.created: Counter | None = None

    def bind(self, metrics: Metrics) -> None:
        self.created = metrics.counter(
            "taskboard_tasks_created_total", "Tasks created, counted from task.created events."
        )

    async def on_task_created(self, message: Message) -> None:
        log.info("task.created", task_id=message.payload["id"], project_id=message.key)
        if self.created is not None:
            self.created.inc()
