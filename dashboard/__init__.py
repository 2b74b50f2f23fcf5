"""The laptop-side live dashboard: an HTTP/SSE bridge fed by the devices' MQTT topics.

Not part of the device: the edge daemon never imports this package (a test checks it).
``dashboard`` imports ``edge`` (topics, the broker address parser, local brokers, the
bundled recordings), never the other way round.
"""

from dashboard.device_hub import valid_device_id
from dashboard.server import DashboardServer

__all__ = ["DashboardServer", "valid_device_id"]
