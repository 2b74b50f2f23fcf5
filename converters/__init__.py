"""Checkpoint to streaming, quantized, signed TFLite bundle; parity and latency checks; push."""
