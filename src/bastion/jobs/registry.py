"""Declaring tasks, cron schedules and companions: :class:`JobsRegistry`.

>>> from pydantic import BaseModel
>>> jobs = JobsRegistry()
>>> class Greet(BaseModel):
...     name: str
>>> @jobs.task(queue="mail", retries=3)
... async def greet(payload: Greet) -> None:
...     print("hello", payload.name)
>>> greet.name, greet.queue, greet.max_attempts
('greet', 'mail', 4)
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, get_type_hints
from zoneinfo import ZoneInfo

import yaml
from croniter import croniter
from pydantic import BaseModel

from bastion.core.errors import ConfigurationError
from bastion.jobs.backoff import Backoff, exponential
from bastion.jobs.errors import UnknownTask

if TYPE_CHECKING:
    from bastion.jobs.worker import JobContext

P = TypeVar("P", bound=BaseModel)
Handler = Callable[..., Awaitable[None]]
# A companion runs beside the worker for as long as it runs (an outbox relay).
Companion = Callable[["JobContext"], Awaitable[None]]


class Empty(BaseModel):
    """The payload of a task that needs none (cron tasks)."""


@dataclass(frozen=True)
class Task(Generic[P]):
    """A registered task: the handler, its payload model and how it is run."""

    name: str
    handler: Handler
    payload_model: type[P]
    queue: str = "default"
    retries: int = 5
    backoff: Backoff = field(default_factory=exponential)
    timeout: float | None = None
    priority: int = 0
    wants_context: bool = False

    @property
    def max_attempts(self) -> int:
        return self.retries + 1

    async def __call__(self, payload: P, context: JobContext) -> None:
        if self.wants_context:
            await self.handler(payload, context)
        else:
            await self.handler(payload)


@dataclass(frozen=True)
class CronSchedule:
    """``task`` is enqueued at each tick of ``expression`` in ``timezone``."""

    name: str
    expression: str
    task: str
    timezone: str = "UTC"
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not croniter.is_valid(self.expression):
            raise ConfigurationError(f"cron {self.name!r}: invalid expression {self.expression!r}")
        ZoneInfo(self.timezone)  # raises for an unknown zone


def _payload_model(handler: Handler) -> tuple[type[BaseModel], bool]:
    parameters = list(inspect.signature(handler).parameters)
    if not inspect.iscoroutinefunction(handler) or len(parameters) not in (1, 2):
        raise ConfigurationError(
            f"task {handler.__qualname__}: an async function (payload[, context])"
        )
    try:
        hints = get_type_hints(handler)
    except NameError as exc:
        raise ConfigurationError(
            f"task {handler.__qualname__}: cannot resolve its annotations ({exc}); "
            "define the payload model at module level"
        ) from exc
    model = hints.get(parameters[0])
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise ConfigurationError(
            f"task {handler.__qualname__}: annotate the payload with a pydantic model"
        )
    return model, len(parameters) == 2


class JobsRegistry:
    """The tasks, cron schedules and companions of an app; give it to ``create_app(jobs=...)``.

    Features register their own maintenance work with :meth:`builtin_cron` and
    long-running helpers with :meth:`companion`.
    """

    def __init__(self) -> None:
        self.tasks: dict[str, Task[Any]] = {}
        self.schedules: dict[str, CronSchedule] = {}
        self.companions: dict[str, Companion] = {}

    def task(
        self,
        name: str | None = None,
        *,
        queue: str = "default",
        retries: int = 5,
        backoff: Backoff | None = None,
        timeout: float | None = None,
        priority: int = 0,
    ) -> Callable[[Handler], Task[Any]]:
        """Register an async ``handler(payload: Model[, context: JobContext])``."""

        def register(handler: Handler) -> Task[Any]:
            model, wants_context = _payload_model(handler)
            task: Task[Any] = Task(
                name=name or handler.__name__,
                handler=handler,
                payload_model=model,
                queue=queue,
                retries=retries,
                backoff=backoff or exponential(),
                timeout=timeout,
                priority=priority,
                wants_context=wants_context,
            )
            if task.name in self.tasks:
                raise ConfigurationError(f"task {task.name!r} is registered twice")
            self.tasks[task.name] = task
            return task

        return register

    def cron(
        self, expression: str, *, timezone: str = "UTC", name: str | None = None, **task: Any
    ) -> Callable[[Handler], Task[Any]]:
        """Register a task (taking no payload, or an all-defaults one) run at each tick."""

        def register(handler: Handler) -> Task[Any]:
            registered = self.task(name, **task)(handler)
            self.add_schedule(
                CronSchedule(registered.name, expression, registered.name, timezone=timezone)
            )
            return registered

        return register

    def builtin_cron(self, name: str, expression: str, handler: Handler, **task: Any) -> Task[Any]:
        """For features: a framework job (``outbox.relay``) run at each tick, in UTC."""
        return self.cron(expression, name=name, **task)(handler)

    def companion(self, name: str, run: Companion) -> None:
        """For features: ``run(context)`` runs beside every worker until it stops."""
        if name in self.companions:
            raise ConfigurationError(f"companion {name!r} is registered twice")
        self.companions[name] = run

    def loop_companion(self, name: str, loop: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        """For features: ``loop(stop)`` runs beside every worker. When the worker stops
        it, ``stop`` is set and the loop finishes its work in hand instead of being
        cancelled midway (a ``LISTEN`` or a batch cut in half)."""

        async def run(_context: JobContext) -> None:
            stop = asyncio.Event()
            running = asyncio.ensure_future(loop(stop))
            try:
                await asyncio.shield(running)
            except asyncio.CancelledError:
                stop.set()
                await running
                raise

        self.companion(name, run)

    def add_schedule(self, schedule: CronSchedule) -> None:
        if schedule.name in self.schedules:
            raise ConfigurationError(f"cron schedule {schedule.name!r} is defined twice")
        self.schedules[schedule.name] = schedule

    def load_schedule_file(self, path: str | Path) -> None:
        """Add the schedules of a YAML file: ``{name: {cron, task, timezone?, payload?}}``."""
        data = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(data, dict):
            raise ConfigurationError(f"{path}: expected a mapping of schedule names")
        for name, entry in data.items():
            if not isinstance(entry, dict) or "cron" not in entry or "task" not in entry:
                raise ConfigurationError(f"{path}: schedule {name!r} needs 'cron' and 'task'")
            self.lookup(entry["task"])
            self.add_schedule(
                CronSchedule(
                    str(name),
                    entry["cron"],
                    entry["task"],
                    timezone=entry.get("timezone", "UTC"),
                    payload=entry.get("payload") or {},
                )
            )

    def lookup(self, name: str) -> Task[Any]:
        try:
            return self.tasks[name]
        except KeyError:
            raise UnknownTask(f"No task is registered as {name!r}.") from None

    def include(self, other: JobsRegistry) -> None:
        """Add another registry's tasks, schedules and companions (a feature's)."""
        for task in other.tasks.values():
            if task.name in self.tasks and self.tasks[task.name] is not task:
                raise ConfigurationError(f"task {task.name!r} is registered twice")
            self.tasks[task.name] = task
        for schedule in other.schedules.values():
            self.schedules.setdefault(schedule.name, schedule)
        for name, run in other.companions.items():
            self.companions.setdefault(name, run)
