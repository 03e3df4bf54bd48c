"""Scale-out: one scan on many workers, on Celery with a Redis broker.

``dispatch`` plans a scan, cuts its permutation into shards (rows in the store) and
queues one task per shard; ``tasks`` runs a shard on a worker (``asyncio.run`` of the
same pipeline a single-process scan runs), resuming from the shard's stored watermark;
``ratelimit`` is the one rate budget all workers share (a token bucket in Redis);
``lease`` keeps a shard on one worker at a time; ``local`` starts a whole cluster on
one machine (``netatlas cluster up``).
"""

from netatlas.cluster.app import QUEUE, TASK_NAME, make_app

__all__ = ["QUEUE", "TASK_NAME", "make_app"]
