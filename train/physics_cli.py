"""``sspinn-physics``: command line of the body model (outside ``train.physics`` so that
``--help`` and ``--version`` answer without loading TensorFlow).

    sspinn-physics verify [--reference CSV] [--dtype float64|float32] [--json]

Exit status: 0 all tolerances met, 1 a tolerance exceeded, 2 usage or file error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge.version import add_version_argument

EXIT_OK = 0
EXIT_TOLERANCE = 1
EXIT_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sspinn-physics", description="Planar body model (gait2dc) tools."
    )
    add_version_argument(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    verify = sub.add_parser(
        "verify",
        help="check the model against a reference stride",
        description=(
            "Evaluate the equations-of-motion residual and the virtual IMU on a reference "
            "stride (CSV + JSON sidecar of the same stem) and compare with the documented "
            f"tolerances. Exit {EXIT_OK}: within tolerance, {EXIT_TOLERANCE}: exceeded, "
            f"{EXIT_ERROR}: file error."
        ),
    )
    verify.add_argument(
        "--reference",
        type=Path,
        default=None,
        help="reference stride CSV (default: the bundled gait2dc walking stride)",
    )
    verify.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _verify(args: argparse.Namespace) -> int:
    from train.physics.reference import ReferenceFormatError, bundled_reference_path
    from train.physics.verify import verify_reference

    if args.reference is None:
        args.reference = bundled_reference_path()
    try:
        report = verify_reference(args.reference, dtype=args.dtype)
    except ReferenceFormatError as exc:
        print(f"sspinn-physics verify: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(json.dumps(report.summary()))
    else:
        tol = report.tolerance
        print(f"reference: {args.reference} ({report.rows} rows, {report.dtype})")
        print(
            f"max |residual|          {report.max_residual_n:.3e} N, N*m  (tol {tol.residual_n:g})"
        )
        print(f"max |residual| / BW,BWBH {report.max_residual_rel:.3e}")
        print(f"IMU acc max error       {report.imu_acc_max_err:.3e} m/s^2  (tol {tol.imu_acc:g})")
        print(f"IMU gyr max error       {report.imu_gyr_max_err:.3e} rad/s  (tol {tol.imu_gyr:g})")
        print(f"contact equations max   {report.contact_equation_max_err_bw:.3e} BW")
        if report.drag_max_err_n is not None:
            print(f"air drag max error      {report.drag_max_err_n:.3e} N, N*m")
        print("OK" if report.ok else "FAILED")
    for failure in report.failures:
        print(f"sspinn-physics verify: {failure}", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_TOLERANCE


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "verify":
        return _verify(args)
    parser.print_help(sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
