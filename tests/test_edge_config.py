"""Daemon config: the example validates; every kind of mistake names its key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from edge.config import ConfigError, DaemonConfig, load_config, validate_config_text
from edge.daemon.preflight import preflight_cli

EXAMPLE = Path(__file__).resolve().parents[1] / "edge" / "config.example.toml"

MINIMAL = """
[device]
id = "belt-01"
[participant]
height_m = 1.8
mass_kg = 75
"""


def _error(text: str, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        validate_config_text(text, "test.toml", **kwargs)
    return info.value


def test_example_file_validates_with_its_values():
    cfg = load_config(EXAMPLE)
    assert isinstance(cfg, DaemonConfig)
    assert cfg.device.id == "belt-01"
    assert cfg.sampling.rate_hz == 100.0
    assert cfg.publish_rate_hz == 20.0
    assert cfg.mqtt.batch_size == 2
    assert cfg.mqtt.offline_queue.policy == "drop_oldest"
    # relative paths are resolved against the file's folder
    assert cfg.recorder.dir == EXAMPLE.parent / "recordings"
    assert cfg.model.bundle == EXAMPLE.parent / "models" / "current.sspinn"
    # no key ships: a published key (e.g. RFC 8032's test vector) must never be trusted
    assert cfg.model.trusted_key_bytes() == []
    assert "d75a980182b10ab7" not in EXAMPLE.read_text()
    assert cfg.sensors["pelvis"]["address"] == 0x68  # free-form table passed through
    assert preflight_cli(EXAMPLE, startup=False) == 0


def test_minimal_config_gets_the_documented_defaults():
    cfg = validate_config_text(MINIMAL)
    assert (cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.qos_estimate) == ("localhost", 1883, 0)
    assert cfg.recorder.segment_s == 60.0
    assert cfg.sampling.rate_hz == 100.0
    assert cfg.publish_rate_hz == 20.0
    assert cfg.mqtt.reconnect.min_s == 1.0 and cfg.mqtt.reconnect.max_s == 2.0
    assert cfg.model.require_signature is False


@pytest.mark.parametrize(
    ("addition", "key", "reason"),
    [
        ("[mqtt]\nport = 70000", "mqtt.port", "Input should be less than 65536"),
        ("[mqtt]\nport = 0", "mqtt.port", "greater than 0"),
        ("[mqtt]\nqos_estimate = 2", "mqtt.qos_estimate", "Input should be 0 or 1"),
        ("[sampling]\nrate_hz = 500", "sampling.rate_hz", "less than or equal to 400"),
        ("[sampling]\nrate_hz = 10", "sampling.rate_hz", "greater than or equal to 25"),
        ("[recorder]\nsegment_s = 'long'", "recorder.segment_s", "valid number"),
        ("[mqtt.offline_queue]\npolicy = 'random'", "mqtt.offline_queue.policy", "drop_oldest"),
        ("[mqtt.reconnect]\nmin_s = 10\nmax_s = 2", "mqtt.reconnect", "max_s (2.0) must be >="),
        ("[mqtt]\npublish_rate_hz = 10\ndecimation = 5", "mqtt", "not both"),
        ("[mqtt]\npassword = 'x'", "mqtt", "a password needs a username"),
        ("[model]\ntrusted_keys = ['abcd']", "model.trusted_keys", "not an Ed25519 public key"),
        ("[model]\nrequire_signature = true", "model", "needs at least one trusted_keys"),
        ("[gpio]\nrecord_button = 5\nstatus_led = 5", "gpio", "pins must be distinct"),
        ("[gpio]\nrecord_button = 40", "gpio.record_button", "less than or equal to 27"),
        ("[mqtt]\npublish_rate_hz = 200", "", "must not exceed sampling.rate_hz (100)"),
        ("[sampling]\nrate_hz = nan", "sampling.rate_hz", "must be a finite number"),
    ],
)
def test_each_error_names_the_key(addition, key, reason):
    err = _error(MINIMAL + addition)
    assert "test.toml" in str(err)
    keys = [k for k, _ in err.problems]
    assert key in keys, err.problems
    msg = dict(err.problems)[key]
    assert reason in msg, msg
    assert f"{key}: {msg}" in str(err) if key else msg in str(err)


def test_exact_message_for_a_port_out_of_range():
    err = _error(MINIMAL + "[mqtt]\nport = 65536")
    assert str(err) == "test.toml: mqtt.port: Input should be less than 65536"


def test_bad_device_id_is_named():
    err = _error(MINIMAL.replace('"belt-01"', '"belt 01/x"'))
    assert err.problems[0][0] == "device.id"
    assert "should match pattern" in err.problems[0][1]


@pytest.mark.parametrize(
    ("addition", "key", "hint"),
    [
        ("[mqtt]\nprot = 1883", "mqtt.prot", "did you mean 'port'?"),
        ("[recorder]\nsegment_sec = 60", "recorder.segment_sec", "did you mean 'segment_s'?"),
        ("[mqtt.tls]\ncafile = 'x'", "mqtt.tls.cafile", "did you mean 'ca_file'?"),
        ("[mqtt.tls]\nca = 'x'", "mqtt.tls.ca", "known keys: ca_file, cert_file"),
        ("[logging]\nlevel = 'debug'", "logging", "known keys: device, participant"),
        ("[device]\nid = 'a'\nname = 'b'\nnmae = 'c'", "device.nmae", "did you mean 'name'?"),
    ],
)
def test_extra_keys_are_rejected_with_a_hint(addition, key, hint):
    text = MINIMAL.split("[participant]")[1]  # keep one [participant] table only
    err = _error("[participant]" + text + addition)
    msg = dict(err.problems)[key]
    assert msg.startswith("Extra inputs are not permitted")
    assert hint in msg


def test_missing_sections_and_several_problems_are_all_listed():
    err = _error("[mqtt]\nport = -1\nkeepalive_s = 1\n")
    keys = {k for k, _ in err.problems}
    assert {"device", "participant", "mqtt.port", "mqtt.keepalive_s"} <= keys
    assert dict(err.problems)["device"] == "required key is missing"
    assert "4 problems" in str(err)


def test_toml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "edge.toml"
    path.write_text(MINIMAL + "\n[mqtt]\nport = = 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert "not valid TOML" in str(info.value)
    assert "line 9" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_tls_and_password_files_are_checked_and_resolved(tmp_path):
    (tmp_path / "ca.pem").write_text("x")
    (tmp_path / "pw").write_text("s3cret\nignored\n")
    path = tmp_path / "edge.toml"
    path.write_text(
        MINIMAL + "[mqtt]\nusername = 'u'\npassword_file = 'pw'\n[mqtt.tls]\nca_file = 'ca.pem'\n"
    )
    cfg = load_config(path)
    assert cfg.mqtt.tls is not None and cfg.mqtt.tls.ca_file == tmp_path / "ca.pem"
    assert cfg.mqtt.resolved_password() == "s3cret"
    assert "s3cret" not in repr(cfg)

    path.write_text(MINIMAL + "[mqtt.tls]\ncert_file = 'ca.pem'\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert dict(info.value.problems)["mqtt.tls"].startswith("cert_file and key_file")

    path.write_text(MINIMAL + "[mqtt]\nusername = 'u'\npassword_file = 'missing'\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "file not found" in dict(info.value.problems)["mqtt.password_file"]


def test_decimation_sets_the_publish_rate():
    cfg = validate_config_text(MINIMAL + "[sampling]\nrate_hz = 200\n[mqtt]\ndecimation = 8\n")
    assert cfg.publish_rate_hz == 25.0


def test_base64_trusted_key_is_accepted():
    import base64

    key = base64.b64encode(bytes(range(32))).decode()
    cfg = validate_config_text(MINIMAL + f"[model]\ntrusted_keys = ['{key}']\n")
    assert cfg.model.trusted_key_bytes() == [bytes(range(32))]


def test_cli_prints_ok_or_the_error(tmp_path, capsys):
    good = tmp_path / "good.toml"
    good.write_text(MINIMAL)
    assert preflight_cli(good, startup=False) == 0
    assert capsys.readouterr().out.startswith(f"OK: {good}")
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL + "[mqtt]\nport = 99999\n")
    assert preflight_cli(bad, startup=False) == 2
    out = capsys.readouterr().out
    assert "mqtt.port: Input should be less than 65536" in out and str(bad) in out


def test_example_covers_every_section():
    data = tomllib.loads(EXAMPLE.read_text())
    assert set(DaemonConfig.model_fields) == set(data)
