"""``tf.distribute`` for the training loop: the strategy a config names, and who is chief.

``default``: one device, the plain training step. ``mirrored``: every GPU of one machine
(``tf.distribute.MirroredStrategy``). ``multi_worker``: several processes or machines
(``tf.distribute.MultiWorkerMirroredStrategy``, cluster and task from the ``TF_CONFIG``
environment variable). The data set's batch is the global batch; it is split evenly
across the replicas.
"""

from __future__ import annotations

import json
import logging
import os

import tensorflow as tf

from train.config import DistributeConfig

log = logging.getLogger(__name__)


def make_strategy(cfg: DistributeConfig) -> tf.distribute.Strategy:
    """The configured strategy (``multi_worker`` needs ``TF_CONFIG``)."""
    if cfg.strategy == "default":
        return tf.distribute.get_strategy()
    if cfg.strategy == "mirrored":
        return tf.distribute.MirroredStrategy()
    if not os.environ.get("TF_CONFIG"):
        raise ValueError(
            "distribute.strategy = 'multi_worker' needs the TF_CONFIG environment variable "
            '(e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}; docs/training.md)'
        )
    return tf.distribute.MultiWorkerMirroredStrategy()


def task() -> tuple[str | None, int | None]:
    """This process's ``TF_CONFIG`` task type and index (``(None, None)`` without one)."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None, None
    t = json.loads(raw).get("task", {})
    return t.get("type"), t.get("index")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True for the process that writes checkpoints, history and TensorBoard: the only one
    unless multi-worker, then the ``chief`` task, else worker 0."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    resolver = strategy.cluster_resolver
    kind, index = resolver.task_type, resolver.task_id
    if kind == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return kind == "worker" and index == 0 and not has_chief


def distribute_dataset(
    strategy: tf.distribute.Strategy, ds: tf.data.Dataset, shard_policy: str
) -> tf.data.Dataset | tf.distribute.DistributedDataset:
    """The global-batch data set split across replicas (unchanged for ``default``).

    ``data``: every worker runs the whole pipeline and keeps its slice of each global
    batch (the same batches as one process); ``file``: each worker reads its own shard
    files (less reading, other batches).
    """
    if not isinstance(
        strategy, tf.distribute.MirroredStrategy | tf.distribute.MultiWorkerMirroredStrategy
    ):
        return ds
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.FILE
        if shard_policy == "file"
        else tf.data.experimental.AutoShardPolicy.DATA
    )
    return strategy.experimental_distribute_dataset(ds.with_options(options))
