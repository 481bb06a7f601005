"""The job queue's problem codes."""

from __future__ import annotations

from bastion.core.errors import BastionError


class JobsError(BastionError):
    """Root of job queue errors."""


class JobNotFound(JobsError):
    code = "jobs.not_found"
    status = 404
    title = "Job not found"


class UnknownTask(JobsError):
    code = "jobs.unknown_task"
    status = 400
    title = "Unknown task"
