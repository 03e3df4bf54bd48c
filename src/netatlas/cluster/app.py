"""The Celery application: configured so that a shard survives the loss of its worker.

Tasks are acknowledged late (after the shard is done) and rejected back onto the queue
when the process running them dies (``task_reject_on_worker_lost``), each worker takes
one task at a time (``worker_prefetch_multiplier``), and a task that no worker acks
within ``visibility_timeout`` (its whole host died) is delivered again. A task carries
ids only — scan id, shard, shard count; the worker reads the plan from the store.
"""

from __future__ import annotations

from celery import Celery

QUEUE = "netatlas.shards"
TASK_NAME = "netatlas.run_shard"
VISIBILITY_TIMEOUT = 3600.0  # seconds; a redelivered shard still running waits (lease.py)


def make_app(broker: str, visibility_timeout: float = VISIBILITY_TIMEOUT) -> Celery:
    app = Celery("netatlas", broker=broker, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=QUEUE,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_transport_options={
            "visibility_timeout": visibility_timeout,
            # look for lapsed deliveries every few seconds (one ZRANGE per worker), not
            # every 10 x 10 s as kombu's defaults would
            "unacked_restore_interval": min(10.0, max(1.0, visibility_timeout / 4)),
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_disable_rate_limits=True,
        worker_send_task_events=False,
    )
    return app
