"""The estimator's hot path: buffer views and the folded feature matrix give exactly what
the interpreter's plain API and the feature definition give, and allocate nothing."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from edge.bundle import read_bundle
from edge.daemon.simulate import default_bundle_path
from edge.features import model_features, planar_channels, static_features
from edge.inference import Estimator
from edge.inference.stepper import _interpreter_class
from edge.mounting import to_segment_axes
from edge.output_spec import make_grf_admissible
from edge.recording import bundled_recording_path, read_recording

BETA = np.radians([5.0, -12.0, 20.0, -3.0, 45.0, -60.0, 170.0])


@pytest.fixture(scope="module")
def bundle():
    return read_bundle(default_bundle_path())


@pytest.fixture(scope="module")
def walking(bundle):
    """400 samples of P01 walking in the bundle's sensor order, with gaps and an inf."""
    rec = read_recording(bundled_recording_path("P01_walking"))
    idx = [rec.sensors.index(s) for s in bundle.manifest.sensors]
    imu = np.ascontiguousarray(np.tile(rec.imu[:, idx], (-(-400 // len(rec.imu)), 1, 1))[:400])
    imu[100:130, 2, :] = np.nan  # a sensor missing for 30 samples
    imu[200, 4, 0] = np.nan  # one channel
    imu[250, 1, 5] = np.inf
    imu[260, 3, 1] = -np.inf
    return imu


def _reference(bundle, imu: np.ndarray, positions: np.ndarray) -> dict[str, np.ndarray]:
    """The same model through the interpreter's copying API, features from the definition."""
    m = bundle.manifest
    interp = _interpreter_class("ai_edge_litert")(model_content=bundle.model_bytes, num_threads=1)
    interp.allocate_tensors()
    runner = interp.get_signature_runner(next(iter(interp.get_signature_list())))
    ins, outs = runner.get_input_details(), runner.get_output_details()
    del runner
    feats = model_features(
        planar_channels(to_segment_axes(imu, BETA)),
        static_features(1.72, 68.0, positions),
        np.asarray(m.normalisation.mean),
        np.asarray(m.normalisation.std),
    ).astype(np.float32)
    states = [np.zeros(s.shape, np.float32) for s in m.states]
    result: dict[str, list[np.ndarray]] = {g: [] for g in m.outputs}
    for row in feats:
        interp.set_tensor(ins[m.input_tensor.name]["index"], row[None, :])
        for s, v in zip(m.states, states, strict=True):
            interp.set_tensor(ins[s.input]["index"], v)
        interp.invoke()
        states = [interp.get_tensor(outs[s.output]["index"]) for s in m.states]
        for g, spec in m.outputs.items():
            raw = interp.get_tensor(outs[spec.tensor]["index"])[0]
            result[g].append(raw * np.float32(spec.scale) + np.float32(spec.offset))
    return {g: np.stack(v) for g, v in result.items()}


def test_step_equals_the_plain_interpreter_gaps_included(bundle, walking) -> None:
    positions = np.random.default_rng(1).normal(0, 0.1, (walking.shape[1], 2))
    # the network's own outputs (the gyroscope fusion is tested in test_angle_fusion.py,
    # the stride speed in test_stride_speed.py)
    est = Estimator(
        bundle, 1.72, 68.0, positions, mounting_rad=BETA, angle_fusion_tau_s=None,
        stride_speed=False,
    )  # fmt: skip
    before = walking.copy()
    streamed = est.run(walking)
    np.testing.assert_array_equal(np.isnan(walking), np.isnan(before))  # input untouched
    reference = _reference(bundle, walking, positions)
    make_grf_admissible(reference["grf_bw"])  # as the estimator publishes them
    for group, values in streamed.items():
        assert np.all(np.isfinite(values)), group
        # features agree to float32 rounding; the network carries that through its state
        np.testing.assert_allclose(values, reference[group], rtol=1e-5, atol=1e-5 * (
            1 + np.abs(reference[group]).max()
        ), err_msg=group)  # fmt: skip
    # a second run from reset() gives the same sequence (the state views are reset)
    again = est.run(walking)
    for group in streamed:
        np.testing.assert_array_equal(again[group], streamed[group])


def test_estimate_buffers_are_the_latest_step(bundle, walking) -> None:
    est = Estimator(bundle, 1.72, 68.0, np.zeros((walking.shape[1], 2)), mounting_rad=BETA)
    first = {g: v.copy() for g, v in est.step(walking[0]).as_dict().items()}
    second = est.step(walking[1]).as_dict()
    assert any(not np.array_equal(first[g], second[g]) for g in first)
    ref = Estimator(bundle, 1.72, 68.0, np.zeros((walking.shape[1], 2)), mounting_rad=BETA)
    ref.step(walking[0])
    for g, v in ref.step(walking[1]).as_dict().items():
        np.testing.assert_array_equal(v, second[g])


def test_step_allocates_nothing(bundle, walking) -> None:
    est = Estimator(bundle, 1.72, 68.0, np.zeros((walking.shape[1], 2)), mounting_rad=BETA)
    rows = [walking[i] for i in (0, 1, 105, 250)]  # fast path, and the exact path
    for row in rows * 5:
        est.step(row)
    tracemalloc.start()
    try:
        snap0 = tracemalloc.take_snapshot()
        for i in range(2000):
            est.step(rows[i % len(rows)])
        snap1 = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(d.size_diff for d in snap1.compare_to(snap0, "filename") if d.size_diff > 0)
    assert grown < 4096, grown  # 2000 steps of per-step buffers would be > 100 kB
