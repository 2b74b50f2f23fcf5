"""Checkpoint to streaming, quantized, signed TFLite bundle; parity and latency checks; push."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
