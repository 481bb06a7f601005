"""Background jobs: tasks, a queue on memory, SQL or Redis, workers and cron.

See ``docs/jobs.md``.
"""

from bastion.jobs.backoff import Backoff, exponential
from bastion.jobs.deps import Jobs
from bastion.jobs.errors import JobNotFound, JobsError, UnknownTask
from bastion.jobs.install import jobs_of
from bastion.jobs.registry import CronSchedule, Empty, JobsRegistry, Task
from bastion.jobs.scheduler import Scheduler
from bastion.jobs.service import JobQueue
from bastion.jobs.settings import JobsSettings
from bastion.jobs.store import JobInfo, JobStore
from bastion.jobs.stores import MemoryJobStore, RedisJobStore, SqlJobStore
from bastion.jobs.worker import JobContext, Worker, WorkerOptions

__all__ = [
    "Backoff",
    "CronSchedule",
    "Empty",
    "JobContext",
    "JobInfo",
    "JobNotFound",
    "JobQueue",
    "JobStore",
    "Jobs",
    "JobsError",
    "JobsRegistry",
    "JobsSettings",
    "MemoryJobStore",
    "RedisJobStore",
    "Scheduler",
    "SqlJobStore",
    "Task",
    "UnknownTask",
    "Worker",
    "WorkerOptions",
    "exponential",
    "jobs_of",
]
