"""Benchmark: what publishing costs the sampling thread (the offline queue's enqueue).

``publish_estimate`` on a link that is not connected only enqueues (encoding happens on
the sender thread); timed per call with one estimate frame, the queue kept from filling.
"""

from __future__ import annotations

import time

import numpy as np

from edge.config import MqttConfig
from edge.mqtt.link import MqttLink
from edge.mqtt.payloads import EstimateFrame

N_CALLS = 20_000


def run() -> dict:
    link = MqttLink(MqttConfig(offline_queue={"max_messages": N_CALLS + 10}), "bench")
    frame = EstimateFrame(
        t=0.0, seq=0, angles_deg={"hip_r": 1.0}, moments_bwbh={"hip_r": 0.01},
        grf_bw={"y_r": 1.0}, speed_m_s=1.2, quality={"sensors_ok": 7, "missing": []},
    )  # fmt: skip
    times = np.empty(N_CALLS)
    clock = time.perf_counter_ns
    for i in range(N_CALLS):
        t0 = clock()
        link.publish_estimate(frame)
        times[i] = clock() - t0
    return {
        "enqueue_median_us": round(float(np.median(times)) / 1e3, 2),
        "enqueue_p99_us": round(float(np.percentile(times, 99)) / 1e3, 2),
        "calls": N_CALLS,
    }


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(), indent=2))
