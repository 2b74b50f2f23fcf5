"""The edge daemon: sample → estimate → publish/record, with commands and safe model swaps."""

from edge.daemon.daemon import Daemon, DaemonParts
from edge.daemon.model_slot import ModelSlot

__all__ = ["Daemon", "DaemonParts", "ModelSlot"]
