"""Run the project's benchmarks and write one JSON report (``make bench``).

Each benchmark module exposes ``run() -> dict`` returning measured figures with their
units in the key names (``..._ms``, ``..._us``, ``..._hz``) and the targets it checks
(``target_...`` and ``meets_target``). Speed targets are checked here, never by timed
assertions in tests.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import platform
import sys
import time
import traceback
from pathlib import Path

# One entry per benchmark module; add yours here.
BENCH_MODULES: list[str] = [
    "edge.recording.bench",
    "edge.recorder.bench",
    "edge.mqtt.bench",
    "train.physics.bench",
    "firmware_bridge.bench",
    "converters.bench",
    "edge.daemon.bench",
    "train.data.synthetic.bench",
]
#: Run only when named with --only (minutes each): ``make bench-shards``.
SLOW_BENCH_MODULES: list[str] = [
    "train.data.shards_bench",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench.json"), help="JSON report path")
    parser.add_argument("--only", nargs="*", default=None, help="module names to run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    report: dict[str, object] = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
        },
        "started_unix_s": time.time(),
        "results": {},
    }
    failed = False
    for name in BENCH_MODULES + SLOW_BENCH_MODULES:
        if (args.only and name not in args.only) or (not args.only and name in SLOW_BENCH_MODULES):
            continue
        logging.info("benchmark %s", name)
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(name)
            result = module.run()
            result["wall_s"] = round(time.perf_counter() - t0, 3)
        except Exception as exc:  # a broken benchmark is reported, the others still run
            failed = True
            result = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
        report["results"][name] = result
    text = json.dumps(report, indent=2, default=float)
    args.out.write_text(text + "\n")
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
