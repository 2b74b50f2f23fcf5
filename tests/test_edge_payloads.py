"""Topics, payload encoders, decimation/batching math and Home Assistant discovery."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edge.mqtt.home_assistant import discovery_messages
from edge.mqtt.payloads import (
    ESTIMATE_FRAME_SCHEMA,
    EstimateFrame,
    build_health,
    build_meta,
    encode_estimates,
    encode_json,
)
from edge.mqtt.publish_settings import PublishSettings, PublishSettingsUpdate
from edge.mqtt.publisher import EstimatePublisher
from edge.mqtt.topics import Topics


def _frame(seq: int, rate_hz: float = 100.0) -> EstimateFrame:
    return EstimateFrame(
        t=seq / rate_hz,
        seq=seq,
        angles_deg={"knee_angle_r": 12.345678, "hip_flexion_r": math.nan},
        moments_bwbh={"knee_angle_r": 0.0412345},
        grf_bw={"grf_y_r": 1.23456, "grf_x_r": -math.inf},
        speed_m_s=1.29191,
        quality={"sensors_ok": np.int64(6), "missing": ["foot_l"], "conf": np.float32(0.91234)},
    )


def test_topics_are_built_in_one_place():
    tp = Topics("belt-01")
    assert tp.status == "sspinn/belt-01/status"
    assert tp.meta == "sspinn/belt-01/meta"
    assert tp.estimate == "sspinn/belt-01/estimate"
    assert tp.health == "sspinn/belt-01/health"
    assert tp.command("record") == "sspinn/belt-01/cmd/record"
    assert tp.result("record") == "sspinn/belt-01/cmd/record/result"
    assert tp.command_filter == "sspinn/belt-01/cmd/+"
    assert tp.command_name("sspinn/belt-01/cmd/model") == "model"
    assert tp.command_name("sspinn/belt-01/cmd/model/result") is None
    assert tp.command_name("sspinn/belt-02/cmd/model") is None
    assert Topics("d", "lab/gait").status == "lab/gait/d/status"
    for bad in ("a/b", "a+", "#", ""):
        with pytest.raises(ValueError):
            Topics(bad)


def test_estimate_frame_encoding_rounds_and_nulls():
    obj = json.loads(encode_estimates(_frame(7)))
    assert obj == {
        "t": 0.07,
        "seq": 7,
        "angles_deg": {"knee_angle_r": 12.346, "hip_flexion_r": None},
        "moments_bwbh": {"knee_angle_r": 0.0412},
        "grf_bw": {"grf_y_r": 1.235, "grf_x_r": None},
        "speed_m_s": 1.292,
        "quality": {"sensors_ok": 6, "missing": ["foot_l"], "conf": 0.912},
    }
    assert set(obj) == set(ESTIMATE_FRAME_SCHEMA["required"])
    assert b"NaN" not in encode_estimates(_frame(7)) and b" " not in encode_estimates(_frame(7))


def test_published_forces_are_admissible():
    """A foot whose vertical GRF came out negative publishes 0 vertical and 0 horizontal
    force (no load, no friction); a loaded foot keeps both values, also in a batch."""
    from edge.output_spec import make_grf_admissible

    one = np.array([0.2, -0.03, -0.01, 1.1], np.float32)  # x_r, y_r, x_l, y_l
    assert make_grf_admissible(one) is one
    assert one.tolist() == pytest.approx([0.0, 0.0, -0.01, 1.1])
    batch = np.array([[0.05, 0.0, 0.3, -1e-4], [-0.1, 0.8, 0.02, 0.4]])
    make_grf_admissible(batch)
    assert batch.tolist() == [[0.05, 0.0, 0.0, 0.0], [-0.1, 0.8, 0.02, 0.4]]


def test_batches_are_arrays_in_time_order():
    batch = [_frame(i) for i in range(5)]
    arr = json.loads(encode_estimates(batch))
    assert [f["seq"] for f in arr] == [0, 1, 2, 3, 4]
    assert json.loads(encode_estimates(batch[:1]))["seq"] == 0  # one frame: an object
    with pytest.raises(ValueError):
        encode_estimates([])


def test_health_and_meta_payloads():
    health = build_health(
        t=12.5,
        wall_time=1.7e9,
        loop_rate_hz=99.97,
        overruns=3,
        latency_ms_p50=0.41234,
        latency_ms_p99=math.nan,
        sensors_ok=7,
        sensors_total=7,
        cpu_temp_c=51.2,
        disk_free_mb=12000.5,
        queue_depth=4,
        recording=True,
        extra={"mqtt": {"dropped": 2}},
    )
    obj = json.loads(encode_json(health))
    assert obj["latency_ms_p50"] == 0.4123 and obj["latency_ms_p99"] is None
    assert obj["mqtt"] == {"dropped": 2} and obj["recording"] is True
    meta = build_meta(
        device_id="belt-01",
        sample_rate_hz=100.0,
        publish_rate_hz=20.0,
        batch_size=2,
        sensors=["pelvis"],
        joints=["knee_angle_r"],
        model_id="sspinn-lstm",
        model_version="1.2.0",
    )
    obj = json.loads(encode_json(meta))
    assert obj["model"] == {"id": "sspinn-lstm", "version": "1.2.0"}
    assert obj["units"]["angles_deg"] == "deg" and obj["schema"] == 1
    with pytest.raises(TypeError):
        encode_json({"x": object()})


@pytest.mark.parametrize(
    ("sample_hz", "publish_hz", "batch", "n", "frames", "messages"),
    [
        (100.0, 20.0, 1, 1000, 200, 200),
        (100.0, 30.0, 4, 1000, 300, 75),
        (100.0, 100.0, 10, 1000, 1000, 100),
        (400.0, 25.0, 5, 4000, 250, 50),
        (82.4, 20.0, 2, 824, 200, 100),
    ],
)
def test_decimation_and_batching_counts(sample_hz, publish_hz, batch, n, frames, messages):
    sent: list[tuple[EstimateFrame, ...]] = []
    pub = EstimatePublisher(
        sent.append, sample_hz, PublishSettings(publish_rate_hz=publish_hz, batch_size=batch)
    )
    for seq in range(n):
        pub.offer(lambda seq=seq: _frame(seq, sample_hz))
    assert pub.frames == frames
    assert len(sent) == messages and all(len(b) == batch for b in sent)
    seqs = [f.seq for b in sent for f in b]
    assert seqs[0] == 0 and seqs == sorted(seqs)
    gaps = np.diff(seqs)
    ratio = sample_hz / publish_hz
    assert gaps.min() >= math.floor(ratio) and gaps.max() <= math.ceil(ratio)
    # the published frames span the run at the requested rate
    assert (seqs[-1] - seqs[0]) / sample_hz == pytest.approx(
        (frames - 1) / publish_hz, abs=1e-9 + 1 / sample_hz
    )


def test_non_integer_ratio_pattern():
    sent: list = []
    pub = EstimatePublisher(sent.append, 100.0, PublishSettings(publish_rate_hz=30.0))
    due = [k for k in range(21) if pub.tick()]
    assert due == [0, 4, 7, 10, 14, 17, 20]


def test_decimation_option_and_runtime_reconfigure():
    sent: list = []
    pub = EstimatePublisher(sent.append, 100.0, PublishSettings(decimation=4, batch_size=3))
    assert pub.publish_rate_hz == 25.0 and pub.messages_per_s == pytest.approx(25 / 3)
    for seq in range(40):  # frames 0,4,...,36 -> 10 frames -> 3 full batches + 1 pending
        pub.offer(lambda seq=seq: _frame(seq))
    assert len(sent) == 3
    pub.reconfigure(batch_size=1)  # the pending frame goes out first
    assert [f.seq for f in sent[-1]] == [36]
    pub.reconfigure(publish_rate_hz=50.0)
    for seq in range(40, 60):
        pub.offer(lambda seq=seq: _frame(seq))
    assert [b[0].seq for b in sent[4:]] == list(range(40, 60, 2))
    with pytest.raises(ValueError, match="must be in"):
        pub.reconfigure(publish_rate_hz=150.0)
    with pytest.raises(ValueError):
        pub.reconfigure(batch_size=0)
    with pytest.raises(ValueError, match="not both"):
        pub.reconfigure(publish_rate_hz=10.0, decimation=2)
    with pytest.raises(ValueError, match="Extra inputs"):
        pub.reconfigure(rate=10.0)
    assert pub.settings == PublishSettings(publish_rate_hz=50.0, batch_size=1)
    pub.reconfigure(batch_size=4)
    pub.offer(lambda: _frame(60))
    pub.flush()
    assert [f.seq for f in sent[-1]] == [60]


def test_publish_settings_default_rate_and_updates():
    """One model: the effective rate is never unset, an update replaces rate/decimation."""
    default = PublishSettings()
    assert default.effective_rate_hz(100.0) == 20.0 and default.effective_rate_hz(10.0) == 10.0
    assert PublishSettings(decimation=8).effective_rate_hz(200.0) == 25.0
    assert EstimatePublisher(lambda b: None, 100.0).publish_rate_hz == 20.0
    by_rate = PublishSettings(decimation=4).updated(PublishSettingsUpdate(publish_rate_hz=10.0))
    assert by_rate == PublishSettings(publish_rate_hz=10.0)
    by_batch = by_rate.updated(PublishSettingsUpdate(batch_size=5))
    assert by_batch == PublishSettings(publish_rate_hz=10.0, batch_size=5)
    by_decimation = by_batch.updated(PublishSettingsUpdate(decimation=2))
    assert by_decimation == PublishSettings(decimation=2, batch_size=5)
    with pytest.raises(ValueError, match="Extra inputs"):
        PublishSettings(publish_rate=10.0)
    with pytest.raises(ValueError, match="not both"):
        PublishSettings(publish_rate_hz=10.0, decimation=2)
    with pytest.raises(ValueError, match="less than or equal to 100"):
        PublishSettings(batch_size=101)


def test_a_failing_sink_does_not_break_the_loop():
    def sink(batch):
        raise RuntimeError("broken")

    pub = EstimatePublisher(sink, 100.0, PublishSettings(publish_rate_hz=100.0))
    for seq in range(5):
        pub.offer(lambda seq=seq: _frame(seq))
    assert pub.messages == 5


def test_home_assistant_expire_after_follows_the_health_interval():
    tp = Topics("belt-01")
    meta = build_meta(
        device_id="belt-01",
        sample_rate_hz=100.0,
        publish_rate_hz=5.0,
        batch_size=1,
        sensors=["pelvis"],
        joints=["knee_angle_r"],
        extra={"health_interval_s": 45.0},
    )
    msgs = {t.split("/")[-2]: json.loads(p) for t, p in discovery_messages(tp, meta)}
    assert msgs["disk_free_mb"]["expire_after"] == 135  # 3 x 45 s
    assert msgs["knee_angle_r"]["expire_after"] == 30  # estimates come at the publish rate
    explicit = dict(discovery_messages(tp, meta, health_interval_s=4.0))
    assert (
        json.loads(explicit["homeassistant/sensor/sspinn_belt-01/sensors_ok/config"])[
            "expire_after"
        ]
        == 30
    )


def test_home_assistant_discovery_shape():
    tp = Topics("belt-01")
    meta = build_meta(
        device_id="belt-01",
        sample_rate_hz=100.0,
        publish_rate_hz=5.0,
        batch_size=1,
        sensors=["pelvis"],
        joints=["knee_angle_r", "knee_angle_l", "pelvis_tilt"],
        grf=["grf_y_r", "grf_y_l", "grf_x_r"],
        model_id="m",
        model_version="1.0.0",
    )
    msgs = dict(discovery_messages(tp, meta, device_name="Belt 1"))
    knee = json.loads(msgs["homeassistant/sensor/sspinn_belt-01/knee_angle_r/config"])
    assert knee["state_topic"] == tp.estimate
    assert knee["availability_topic"] == tp.status
    assert (knee["payload_available"], knee["payload_not_available"]) == ("online", "offline")
    assert knee["unit_of_measurement"] == "°"
    assert knee["unique_id"] == "sspinn_belt-01_knee_angle_r"
    assert "angles_deg.knee_angle_r" in knee["value_template"]
    assert "value_json[-1]" in knee["value_template"]  # batches: the newest frame
    assert knee["device"]["identifiers"] == ["sspinn_belt-01"]
    assert knee["device"]["name"] == "Belt 1" and knee["device"]["sw_version"] == "m 1.0.0"
    ids = {t.split("/")[-2] for t in msgs}
    assert {"knee_angle_r", "knee_angle_l", "grf_y_r", "grf_y_l", "speed"} <= ids
    assert not {"hip_flexion_r", "pelvis_tilt", "grf_x_r"} & ids  # only what meta lists
    speed = json.loads(msgs["homeassistant/sensor/sspinn_belt-01/speed/config"])
    assert speed["device_class"] == "speed" and speed["unit_of_measurement"] == "m/s"
    temp = json.loads(msgs["homeassistant/sensor/sspinn_belt-01/cpu_temp_c/config"])
    assert temp["state_topic"] == tp.health and temp["device_class"] == "temperature"
    # health sensors are diagnostics; every sensor names its origin and display precision
    assert temp["entity_category"] == "diagnostic" and "entity_category" not in knee
    assert (knee["suggested_display_precision"], temp["suggested_display_precision"]) == (1, 1)
    assert (
        json.loads(msgs["homeassistant/sensor/sspinn_belt-01/grf_y_r/config"])[
            "suggested_display_precision"
        ]
        == 2
    )
    assert knee["origin"]["name"] == "SSPINNpose edge" and knee["origin"]["sw_version"]
    assert knee["expire_after"] == temp["expire_after"] == 30  # 5 s health: at least 30 s
    assert len({json.loads(p)["unique_id"] for p in msgs.values()}) == len(msgs)
