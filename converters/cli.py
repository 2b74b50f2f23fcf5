"""``sspinn-convert``: checkpoint → signed, verified int8/float TFLite bundle; keygen; push.

sspinn-convert [CHECKPOINT] --quantize {float32,dynamic,int8} --out BUNDLE [--sign KEY]
sspinn-convert keygen --out KEY
sspinn-convert push BUNDLE --broker HOST[:PORT] --device ID [--tls-ca FILE ...]
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import sys
from pathlib import Path

from edge.bundle import BundleError, generate_keypair, load_signing_key, write_bundle
from edge.recording import resolve_recording
from edge.version import add_version_argument

log = logging.getLogger("sspinn-convert")

#: The subcommands besides the default (convert a checkpoint).
COMMANDS = ("keygen", "push")


def default_checkpoint() -> Path:
    """The shipped default checkpoint (``train/models/default``)."""
    from importlib import resources

    return Path(str(resources.files("train") / "models" / "default"))


def _convert_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sspinn-convert",
        description="Convert a trained checkpoint into a streaming TFLite bundle (*.sspinn). "
        "Other commands: 'sspinn-convert keygen --help', 'sspinn-convert push --help'.",
    )
    add_version_argument(p)
    p.add_argument(
        "checkpoint", nargs="?", type=Path, help="checkpoint folder (default: shipped model)"
    )
    p.add_argument(
        "--quantize",
        choices=("float32", "dynamic", "int8"),
        default="int8",
        help="float32: exact, largest; dynamic: int8 weights, float compute; int8: integer "
        "weights and compute, calibrated on --data (the shipped bundle; default)",
    )
    p.add_argument("--out", type=Path, required=True, help="bundle file to write (*.sspinn)")
    p.add_argument("--sign", type=Path, metavar="KEY", help="Ed25519 private key file")
    p.add_argument(
        "--data",
        nargs="*",
        default=None,
        metavar="RECORDING",
        help="recordings (CSV, NAME or bundled:NAME) for int8 calibration and parity (default: "
        "the bundled P01 recordings and one synthetic recording when the generator is available)",
    )
    p.add_argument("--report", type=Path, help="report JSON path (default: BUNDLE.report.json)")
    return p


def _not_a_command(word: str) -> str | None:
    """The error for a first argument that is neither a command nor an existing path
    (``sspinn-convert keygn``), else None."""
    if Path(word).exists() or word.startswith("-") or "/" in word or "." in word:
        return None
    close = difflib.get_close_matches(word, COMMANDS, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return (
        f"error: {word!r} is not a command; {hint}commands: {', '.join(COMMANDS)}, or the "
        f"checkpoint folder to convert (there is no folder {word!r}; see sspinn-convert --help)"
    )


def _default_recordings() -> list:
    from edge.recording import bundled_recording_path

    recs: list = [bundled_recording_path("P01_walking"), bundled_recording_path("P01_running")]
    try:
        from train.data.synthetic import default_parity_recording  # type: ignore[attr-defined]
    except ImportError:
        log.info("synthetic generator not available: parity on the real recordings only")
    else:
        recs.append(default_parity_recording())
    return recs


def _run_convert(argv: list[str]) -> int:
    args = _convert_parser().parse_args(argv)
    try:
        data = [resolve_recording(d) for d in args.data] if args.data else None
    except FileNotFoundError as exc:
        print(f"error: --data: {exc}", file=sys.stderr)
        return 2
    from converters.pipeline import convert_checkpoint

    checkpoint = args.checkpoint or default_checkpoint()
    if not (checkpoint / "checkpoint.json").is_file():
        print(
            f"error: {checkpoint} is not a checkpoint (no checkpoint.json); train one with "
            "`sspinn-train --out DIR` or pass its folder",
            file=sys.stderr,
        )
        return 2
    key = load_signing_key(args.sign) if args.sign else None
    recordings = data or _default_recordings()
    try:
        result = convert_checkpoint(
            checkpoint,
            args.quantize,
            recordings,
            signing_key=key,
            provenance={"converted_from": str(checkpoint)},
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_bundle(args.out, result.bundle_bytes)
    report_path = args.report or args.out.with_suffix(".report.json")
    report_path.write_text(json.dumps(result.report, indent=2) + "\n")
    print(json.dumps(result.report, indent=2))
    print(f"wrote {args.out} ({len(result.bundle_bytes)} bytes) and {report_path}", file=sys.stderr)
    return 0


def _run_keygen(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="sspinn-convert keygen", description="Create an Ed25519 key pair."
    )
    add_version_argument(p)
    p.add_argument(
        "--out", type=Path, required=True, help="private key file; KEY.pub is written beside it"
    )
    args = p.parse_args(argv)
    private, public = generate_keypair(args.out)
    print(f"private key: {private} (keep it secret; mode 0600)")
    key = public.read_text().strip()
    print(f"public key:  {public}: {key}")
    print("add this line to the [model] section of the device config (edge.toml):")
    print(f'trusted_keys = ["{key}"]')
    print("or, for an operator key that signs commands, to the [commands] section:")
    print(f'require_signed = true\ntrusted_keys = ["{key}"]')
    return 0


def _run_push(argv: list[str]) -> int:
    from converters.push import PushError, TlsOptions, push_bundle
    from edge.mqtt.login import add_login_arguments, resolve_login

    p = argparse.ArgumentParser(
        prog="sspinn-convert push", description="Send a bundle to a device over MQTT."
    )
    add_version_argument(p)
    p.add_argument("bundle", type=Path)
    p.add_argument("--broker", required=True, help="HOST[:PORT]")
    p.add_argument("--device", required=True, help="device id")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the device")
    p.add_argument("--tls-ca", help="CA file: connect with TLS")
    p.add_argument("--tls-cert", help="client certificate")
    p.add_argument("--tls-key", help="client key")
    p.add_argument("--tls-insecure", action="store_true", help="skip host name verification")
    add_login_arguments(p)
    p.add_argument("--password", help="prefer --password-file or $SSPINN_MQTT_PASSWORD")
    p.add_argument(
        "--command-key",
        type=Path,
        help="operator key: sign the command (devices with [commands] require_signed)",
    )
    p.add_argument(
        "--allow-downgrade",
        action="store_true",
        help="let the device replace its model with an older version (a deliberate rollback)",
    )
    args = p.parse_args(argv)
    tls = None
    if args.tls_ca or args.tls_cert:
        tls = TlsOptions(args.tls_ca, args.tls_cert, args.tls_key, args.tls_insecure)
    try:
        username, password = resolve_login(args.username, args.password_file, args.password)
        command_key = load_signing_key(args.command_key) if args.command_key else None
        result = push_bundle(
            args.bundle,
            args.broker,
            args.device,
            timeout_s=args.timeout,
            tls=tls,
            username=username,
            password=password,
            allow_downgrade=args.allow_downgrade,
            command_key=command_key,
        )
    except (PushError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0 if result.get("ok") else 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if argv[:1] == ["keygen"]:
            return _run_keygen(argv[1:])
        if argv[:1] == ["push"]:
            return _run_push(argv[1:])
        if argv and (problem := _not_a_command(argv[0])):
            print(problem, file=sys.stderr)
            return 2
        return _run_convert(argv)
    except (BundleError, FileExistsError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
