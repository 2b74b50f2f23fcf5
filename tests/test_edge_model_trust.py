"""A running daemon with a trusted key but ``require_signature = false`` (the default):
no signature downgrade and no version downgrade over ``cmd/model``, through a real
mosquitto and ``sspinn-convert push``."""

from __future__ import annotations

import threading

import pytest
from daemon_helpers import SHIPPED_BUNDLE, make_daemon

from converters.push import push_bundle
from edge.bundle import BundleError, build_bundle, generate_keypair, load_signing_key, read_bundle


@pytest.mark.slow
def test_pushes_cannot_strip_the_signature_or_go_back_a_version(tmp_path, mosquitto):
    key, pub = generate_keypair(tmp_path / "k" / "dev.key")
    signing = load_signing_key(key)
    shipped = read_bundle(SHIPPED_BUNDLE)

    def bundle(version: str, key=signing) -> bytes:
        manifest = shipped.manifest.model_copy(update={"version": version})
        return build_bundle(manifest, shipped.model_bytes, key)

    start = tmp_path / "v2.sspinn"
    start.write_bytes(bundle("2.0.0"))
    # The shipped bundle is unsigned: with a key trusted it cannot even start the daemon.
    with pytest.raises(BundleError, match="unsigned"):
        make_daemon(mosquitto, SHIPPED_BUNDLE, tmp_path / "a", "trust", keys=[pub.read_text()])
    daemon = make_daemon(
        mosquitto, start, tmp_path, "trust", keys=[pub.read_text().strip()], record=False
    )
    assert daemon.cfg.model.require_signature is False
    runner = threading.Thread(target=daemon.run, kwargs={"duration_s": 60.0})
    daemon.start()
    runner.start()
    assert daemon.link.wait_ready(15)
    try:

        def push(data: bytes, name: str, **kw) -> dict:
            path = tmp_path / name
            path.write_bytes(data)
            return push_bundle(path, mosquitto.address, "trust", timeout_s=20, **kw)

        live = daemon.slot.estimator
        result = push(bundle("3.0.0", key=None), "stripped.sspinn")
        assert result["ok"] is False
        assert "unsigned" in result["error"] and "trusted_keys" in result["error"]
        result = push(bundle("1.0.0"), "old.sspinn")
        assert result["ok"] is False
        assert "1.0.0 is older than the running 2.0.0" in result["error"]
        assert "allow_downgrade" in result["error"]
        assert daemon.slot.estimator is live
        assert daemon.slot.bundle.manifest.version == "2.0.0"
        # The explicit flag rolls back on purpose; the signature rules still hold.
        result = push(bundle("1.0.0", key=None), "old-unsigned.sspinn", allow_downgrade=True)
        assert result["ok"] is False and "unsigned" in result["error"]
        result = push(bundle("1.0.0"), "old.sspinn", allow_downgrade=True)
        assert result["ok"] is True, result
        assert daemon.slot.bundle.manifest.version == "1.0.0"
        assert daemon.slot.swaps == 1
    finally:
        daemon.stop()
        runner.join(30)
        daemon.close()
