"""The edge runtime undoes the sensor mounting for segment-axis bundles: the manifest's
``input_axes``, the allocation-free rotation in the feature assembler, the one rule
(standing capture / alignment applied / kept / functional), and the device's
functional estimate from the first stretch of gait."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from edge.bundle import Bundle, BundleError, build_bundle, read_bundle
from edge.bundle.archive import manifest_to_bytes
from edge.daemon.simulate import default_bundle_path
from edge.features import FeatureAssembler, feature_names, model_features, planar_channels
from edge.features import static_features as make_static
from edge.inference import Estimator
from edge.inference.angle_fusion import DEFAULT_TAU_S
from edge.mounting import Mounting, SensorMounting, from_segment_axes, to_segment_axes
from edge.mounting.device import DeviceMounting, MountingConfig
from edge.mounting.rule import identity, stored_mounting, with_mounting
from edge.recording import SENSOR_NAMES, Recording, bundled_recording_path, read_recording
from edge.recording.timebase import tile_cycles
from firmware_bridge.calibration import calibrate_still

NAMES = list(SENSOR_NAMES)
S = len(NAMES)
#: Every sensor tilted further by ±15° (alternating).
TILT = np.radians([15.0 if k % 2 == 0 else -15.0 for k in range(S)])
#: What a standing capture of :func:`_standing` measures on untilted straps.
LEAN = math.atan2(0.3, 9.81)


def segment_bundle(source: Path | None = None) -> Bundle:
    """The shipped bundle's model declared segment-axis (its weights do not matter for
    what is tested here: that the input is undone the same way)."""
    b = read_bundle(source or default_bundle_path())
    manifest = b.manifest.model_copy(update={"input_axes": "segment"})
    return read_bundle(build_bundle(manifest, b.model_bytes))


def sensor_bundle() -> Bundle:
    """The shipped bundle's model declared sensor-axis (a manifest without the field)."""
    b = read_bundle(default_bundle_path())
    manifest = b.manifest.model_copy(update={"input_axes": "sensor"})
    return read_bundle(build_bundle(manifest, b.model_bytes))


@pytest.fixture(scope="module")
def walking() -> Recording:
    return tile_cycles(read_recording(bundled_recording_path("P01_walking")), 12, rate_hz=100.0)


def _standing(n: int = 300, seed: int = 4) -> np.ndarray:
    """(n, S, 6) quiet standing in segment axes: gravity up, a gyro bias, a little noise."""
    rng = np.random.default_rng(seed)
    seg = np.zeros((n, S, 6))
    seg[:, :, 1] = 9.81
    seg[:, :, 0] = 0.3  # segments not exactly upright: a standing capture sees ~1.7°
    seg[:, :, :3] += rng.normal(0.0, 0.01, (n, S, 3))
    seg[:, :, 3:] += 0.01 + rng.normal(0.0, 0.002, (n, S, 3))
    return seg


def _with(rec: Recording, imu: np.ndarray, calibration: dict | None) -> Recording:
    meta = rec.meta.model_copy(update={"calibration": calibration})
    return Recording(rec.time_s, rec.sensors, imu, meta, rec.truth, rec.path)


def _angles(
    bundle: Bundle, rec: Recording, mounting_rad: np.ndarray | None, *, fused: bool = True
) -> np.ndarray:
    """Published angles (N, 7) deg; ``fused=False``: the network's own, before the
    published angles (which subtract the mounting)."""
    est = Estimator(
        bundle,
        rec.meta.participant.height_m,
        rec.meta.participant.mass_kg,
        np.array([rec.meta.sensors[s].position_m for s in NAMES]),
        mounting_rad=mounting_rad,
        angle_fusion_tau_s=DEFAULT_TAU_S if fused else None,
    )
    return est.run(np.ascontiguousarray(rec.imu))["angles_deg"]


# ---- manifest -------------------------------------------------------------------------
def test_an_old_manifest_without_input_axes_loads_as_sensor() -> None:
    b = sensor_bundle()
    assert b"input_axes" not in b.manifest_bytes  # as written before the field existed
    assert b.manifest.input_axes == "sensor"
    # a sensor-axis manifest is still written without it (older runtimes load it) ...
    assert b"input_axes" not in manifest_to_bytes(b.manifest)
    # ... a segment-axis one with it (older runtimes refuse it: extra="forbid")
    seg = segment_bundle()
    assert json.loads(seg.manifest_bytes)["input_axes"] == "segment"
    assert seg.manifest.input_axes == "segment"


def test_a_signed_segment_bundle_verifies(tmp_path) -> None:
    from edge.bundle import generate_keypair, load_signing_key

    private, public = generate_keypair(tmp_path / "k.key")
    b = read_bundle(default_bundle_path())
    manifest = b.manifest.model_copy(update={"input_axes": "segment"})
    data = build_bundle(manifest, b.model_bytes, load_signing_key(private))
    back = read_bundle(data, trusted_keys=[public.read_text()], require_signature=True)
    assert back.signed_by == 0 and back.manifest.input_axes == "segment"
    # flipping the axes back to "sensor" in a signed manifest breaks its signature
    from edge.bundle.archive import _canonical_zip

    flipped = back.manifest_bytes.replace(b'"input_axes": "segment",\n', b"")
    assert flipped != back.manifest_bytes
    forged = _canonical_zip(
        [("manifest.json", flipped), ("model.tflite", b.model_bytes), ("signature", back.signature)]
    )
    with pytest.raises(BundleError, match="signature"):
        read_bundle(forged, trusted_keys=[public.read_text()])


# ---- the feature assembler ----------------------------------------------------------
def test_assembler_with_mounting_equals_training_definition_nan_included() -> None:
    rng = np.random.default_rng(3)
    imu = rng.normal(0.0, 4.0, (200, S, 6))
    imu[10, 2, :] = np.nan
    imu[20:35, 5, 0] = np.nan  # spreads to acc_y of that sensor, as in to_segment_axes
    imu[50, 1, 5] = np.inf
    static = make_static(1.72, 68.0, rng.normal(0, 0.1, (S, 3)))
    n_feat = len(feature_names(NAMES))
    mean, std = rng.normal(0, 1, n_feat), rng.uniform(0.5, 3.0, n_feat)
    beta = np.radians([5.0, -12.0, 20.0, -3.0, 45.0, -60.0, 170.0])
    reference = model_features(planar_channels(to_segment_axes(imu, beta)), static, mean, std)
    asm = FeatureAssembler(S, static, mean, std, mounting_rad=beta)
    before = imu.copy()
    rows = np.stack([asm.assemble(row)[0].copy() for row in imu])
    np.testing.assert_array_equal(np.isnan(imu), np.isnan(before))  # input untouched
    np.testing.assert_allclose(rows, reference, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(asm.mounting_rad, beta, atol=1e-12)
    asm.set_mounting(None)
    plain = model_features(planar_channels(imu), static, mean, std)
    np.testing.assert_allclose(asm.assemble(imu[0])[0], plain[0], rtol=2e-5, atol=2e-5)


def test_assembler_rotation_allocates_nothing_per_step() -> None:
    import tracemalloc

    rng = np.random.default_rng(0)
    static = make_static(1.7, 70.0, np.zeros((S, 3)))
    n_feat = len(feature_names(NAMES))
    asm = FeatureAssembler(S, static, np.zeros(n_feat), np.ones(n_feat), mounting_rad=TILT)
    row = rng.normal(0, 3, (S, 6))
    for _ in range(10):
        asm.assemble(row)
    tracemalloc.start()
    try:
        snap0 = tracemalloc.take_snapshot()
        for _ in range(1000):
            asm.assemble(row)
        snap1 = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(d.size_diff for d in snap1.compare_to(snap0, "filename") if d.size_diff > 0)
    assert grown < 4096, grown  # no per-step buffers (1000 steps would be > 100 kB)


# ---- the acceptance: tilted straps give the same joint angles -----------------------
@pytest.mark.parametrize("kind", ["gyro_bias", None])
def test_tilted_straps_give_the_same_joint_angles(walking, kind) -> None:
    """All 7 sensors tilted by ±15° in the standing capture and in the gait: the
    segment-axis bundle, undoing the sidecar's standing capture by the rule, gives the same
    joint angles as on the untilted recording; the sensor-axis bundle does not."""
    standing = _standing()
    gait = walking.imu
    recs = {}
    for name, beta in (("plain", np.zeros(S)), ("tilted", TILT)):
        cal = calibrate_still(from_segment_axes(standing, beta), NAMES, 100.0).to_sidecar()
        if kind is not None:
            cal = {"kind": kind, **cal}
        recs[name] = _with(walking, from_segment_axes(gait, beta), cal)
    m_plain = stored_mounting(recs["plain"].meta.calibration)
    m_tilt = stored_mounting(recs["tilted"].meta.calibration)
    assert m_plain is not None and m_tilt is not None
    np.testing.assert_allclose(m_tilt.angles(NAMES) - m_plain.angles(NAMES), TILT, atol=1e-9)
    seg = segment_bundle()
    a = _angles(seg, recs["plain"], m_plain.angles(NAMES))
    b = _angles(seg, recs["tilted"], m_tilt.angles(NAMES))
    rms = np.sqrt(np.mean((a - b) ** 2, axis=0))
    assert rms.max() < 1.0, rms  # the acceptance bound
    assert rms.max() < 0.05, rms  # in practice: float32 rounding and int8 bins only
    sensor = sensor_bundle()
    plain, tilted = (_angles(sensor, recs[k], None, fused=False) for k in ("plain", "tilted"))
    raw_change = np.sqrt(np.mean((plain - tilted) ** 2))
    assert raw_change > 0.5, raw_change  # the tilt reaches the network when not undone (0.99°)


def test_alignment_applied_on_the_device_leaves_identity(walking) -> None:
    """kind = "alignment": the device rotated the data itself (CalibrationApplier), so
    the rule undoes nothing more; same angles as the gyro-bias-only path, where the
    rule undoes the standing capture's angles instead."""
    result = calibrate_still(from_segment_axes(_standing(), TILT), NAMES, 100.0)
    applier = result.applier(NAMES)
    gait = from_segment_axes(walking.imu, TILT)
    aligned = applier.apply(gait.copy())  # what the daemon records after "alignment"
    unbiased = gait.copy()  # ... after "gyro_bias" (bias removed, not rotated)
    unbiased[..., 3:] -= applier.bias
    m_al = stored_mounting({"kind": "alignment", **result.to_sidecar()})
    m_b = stored_mounting({"kind": "gyro_bias", **result.to_sidecar()})
    assert m_al is not None and m_b is not None
    np.testing.assert_array_equal(m_al.angles(NAMES), 0.0)
    seg = segment_bundle()
    a = _angles(seg, _with(walking, aligned, None), m_al.angles(NAMES))
    c = _angles(seg, _with(walking, unbiased, None), m_b.angles(NAMES))
    assert np.sqrt(np.mean((a - c) ** 2, axis=0)).max() < 0.05


# ---- the rule and the sidecar entry ----------------------------------------------------
def test_rule_order_and_sidecar_entry() -> None:
    kept = Mounting(sensors={s: SensorMounting(angle_rad=0.2, method="functional") for s in NAMES})
    cal = calibrate_still(from_segment_axes(_standing(), TILT), NAMES, 100.0).to_sidecar()
    # (a) alignment applied beats everything, (b) a standing capture beats the kept one
    for kind, want in (("alignment", np.zeros(S)), ("gyro_bias", TILT + LEAN)):
        m = stored_mounting({"kind": kind, **cal}, persisted=kept)
        assert m is not None
        np.testing.assert_allclose(m.angles(NAMES), want, atol=0.01)
    # (c) the kept one when there is no calibration; partial calibration completed by it
    partial = {**cal, "sensors": {"pelvis": cal["sensors"]["pelvis"]}}
    m = stored_mounting(partial, persisted=kept)
    assert m is not None and m.sensors["pelvis"].method == "still"
    assert m.sensors["foot_l"].angle_rad == 0.2
    assert stored_mounting(None) is None
    # the sidecar entry leaves out placeholders (a reader then estimates those itself)
    pending = identity(NAMES, "pending")
    assert with_mounting(None, pending) is None
    entry = with_mounting({"kind": "gyro_bias", **cal}, kept)
    assert entry is not None and entry["kind"] == "gyro_bias"
    back = Mounting.from_sidecar(entry)
    assert back is not None
    np.testing.assert_allclose(back.angles(NAMES), TILT + LEAN, atol=0.01)


# ---- the device: kept file, calibration, functional estimate ---------------------------
def _device(walking: Recording, path: Path | None, **kw) -> DeviceMounting:
    return DeviceMounting(NAMES, 100.0, walking.meta, path=path, **kw)


def test_device_functional_estimate_after_enough_gait(walking, tmp_path) -> None:
    """Nothing stored: identity (said so), then the functional estimate from the first
    window of gait, kept in the file and used after a restart."""
    seen: list[Mounting] = []
    path = tmp_path / "state" / "mounting.json"
    dev = _device(walking, path, window_s=10.0, on_change=seen.append)
    report = dev.report()
    assert report["source"] == "pending"
    assert all(v["method"] == "none" and v["angle_deg"] == 0.0 for v in report["sensors"].values())
    assert "pending" in report["warnings"][0]
    assert report["functional"]["state"] == "collecting"
    tilted = from_segment_axes(walking.imu, TILT)
    standing = from_segment_axes(_standing(800), TILT)
    for row in np.concatenate([standing, tilted[:200]]):  # 8 s standing, 2 s gait
        dev.observe(row)
    dev.live.join(10)
    # the first window held standing: no estimate yet, the next one is collected
    assert dev.live.attempts == 1 and dev.live.result is None and dev.live.collecting
    assert "stride" in dev.report()["functional"]["last_error"]
    for row in tilted[200:1300]:  # the next 10 s of gait (and 1 s more)
        dev.observe(row)
    dev.live.join(10)
    assert seen, "no estimate after 10 s of gait"
    got = dev.angles()
    expected = estimate_on(walking, TILT)
    np.testing.assert_allclose(got, expected, atol=math.radians(1.0))
    report = dev.report()
    assert report["source"] == "functional" and report["functional"]["state"] == "done"
    assert all(v["method"] == "functional" for v in report["sensors"].values())
    assert Mounting.from_sidecar(dev.sidecar_calibration()) is not None
    # kept across a restart: the next device starts with it ("stored"), collects nothing
    again = _device(walking, path, window_s=10.0)
    np.testing.assert_allclose(again.angles(), got)
    assert again.report()["source"] == "stored" and not again.live.collecting


def estimate_on(walking: Recording, beta: np.ndarray) -> np.ndarray:
    from edge.mounting import estimate_functional

    n = 1000
    meta = walking.meta.model_copy(update={"samples_per_cycle": None, "calibration": None})
    rec = Recording(
        walking.time_s[:n] - walking.time_s[0],
        walking.sensors,
        from_segment_axes(walking.imu, beta)[200 : 200 + n],
        meta,
    )
    return estimate_functional(rec).angles(NAMES)


def test_device_calibration_wins_and_is_kept(walking, tmp_path) -> None:
    path = tmp_path / "mounting.json"
    seen: list[Mounting] = []
    dev = _device(walking, path, on_change=seen.append)
    result = calibrate_still(from_segment_axes(_standing(), TILT), NAMES, 100.0)
    dev.set_calibration({"kind": "alignment", **result.to_sidecar()})
    assert seen and np.allclose(dev.angles(), 0.0)
    assert dev.report()["source"] == "alignment applied" and not dev.live.collecting
    side = dev.sidecar_calibration()
    assert side is not None and side["kind"] == "alignment" and "mounting" in side
    # after a restart no calibration is applied: the kept raw-data angles are undone
    again = _device(walking, path)
    np.testing.assert_allclose(again.angles(), TILT + LEAN, atol=0.01)
    assert again.report()["source"] == "stored"
    dev.set_calibration({"kind": "gyro_bias", **result.to_sidecar()})
    np.testing.assert_allclose(dev.angles(), TILT + LEAN, atol=0.01)
    assert dev.report()["source"] == "standing capture"


def test_config_section_defaults_and_paths(tmp_path) -> None:
    from edge.config import validate_config_data

    base = {"device": {"id": "d"}, "participant": {"height_m": 1.7, "mass_kg": 70}}
    cfg = validate_config_data(base, base_dir=tmp_path)
    assert cfg.mounting == MountingConfig()
    assert cfg.mounting.path(tmp_path / "models") == tmp_path / "models" / "mounting.json"
    cfg = validate_config_data(
        {**base, "mounting": {"file": "state/m.json", "functional_window_s": 30}},
        base_dir=tmp_path,
    )
    assert cfg.mounting.path(Path("x")) == tmp_path / "state" / "m.json"
    assert (
        validate_config_data({**base, "mounting": {"persist": False}}).mounting.path(Path("x"))
        is None
    )


def test_a_corrupt_kept_file_is_reported_not_fatal(walking, tmp_path) -> None:
    path = tmp_path / "mounting.json"
    path.write_text("{not json")
    dev = _device(walking, path)
    report = dev.report()
    assert report["source"] == "pending"
    assert any("ignored" in w for w in report["warnings"])


def test_the_kept_file_may_be_what_sspinn_edge_calibrate_writes(walking, tmp_path) -> None:
    result = calibrate_still(from_segment_axes(_standing(), TILT), NAMES, 100.0)
    path = tmp_path / "mounting.json"
    path.write_text(json.dumps(result.to_sidecar()))  # `sspinn-edge calibrate --out`
    dev = _device(walking, path)
    np.testing.assert_allclose(dev.angles(), TILT + LEAN, atol=0.01)
    assert dev.report()["source"] == "stored" and not dev.live.collecting
