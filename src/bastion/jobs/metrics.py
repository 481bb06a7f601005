"""The queue's Prometheus metrics, declared through the app's :class:`Metrics`."""

from __future__ import annotations

from bastion.jobs.store import ClaimedJob, NewJob, QueueStats
from bastion.ops.metrics import Metrics

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class JobMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self._enqueued = metrics.counter(
            "bastion_jobs_enqueued_total",
            "Enqueue calls that stored a job (in a transaction: even if it rolled back).",
            ["queue", "task"],
        )
        self._outcomes = metrics.counter(
            "bastion_jobs_finished_total",
            "Job runs by outcome: completed, retried, dead, released.",
            ["queue", "task", "outcome"],
        )
        self._latency = metrics.histogram(
            "bastion_jobs_start_delay_seconds",
            "From when a job was due (enqueued or run_at) to the start of its run.",
            ["queue"],
            buckets=LATENCY_BUCKETS,
        )
        self._runtime = metrics.histogram(
            "bastion_jobs_run_seconds",
            "How long job runs took.",
            ["queue", "task"],
            buckets=LATENCY_BUCKETS,
        )
        self._depth = metrics.gauge(
            "bastion_jobs_queue_depth",
            "Jobs per queue and state (queued, scheduled, running, dead).",
            ["queue", "state"],
            multiprocess_mode="livemax",
        )

    def enqueued(self, job: NewJob) -> None:
        self._enqueued.labels(queue=job.queue, task=job.task).inc()

    def started(self, job: ClaimedJob, now: float) -> None:
        due = max(job.run_at, job.enqueued_at)
        self._latency.labels(queue=job.queue).observe(max(0.0, now - due))

    def finished(self, job: ClaimedJob, outcome: str, seconds: float) -> None:
        self._outcomes.labels(queue=job.queue, task=job.task, outcome=outcome).inc()
        self._runtime.labels(queue=job.queue, task=job.task).observe(seconds)

    def depth(self, stats: list[QueueStats]) -> None:
        for row in stats:
            for state in ("queued", "scheduled", "running", "dead"):
                self._depth.labels(queue=row.queue, state=state).set(getattr(row, state))
