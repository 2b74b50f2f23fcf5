"""Everything that touches hardware: I2C bus, multiplexer, IMU drivers, sampler, GPIO, emulation.

Layers, bottom up (each module has one job; see ``docs/acquisition.md``):

- :mod:`firmware_bridge.bus` — one smbus2-compatible bus behind a lock, typed ``BusError``.
- :mod:`firmware_bridge.tca9548a` — the TCA9548A I2C multiplexer.
- :mod:`firmware_bridge.registers` — register maps (named constants, datasheet references).
- :mod:`firmware_bridge.drivers` — MPU-6050 and LSM6DSOX drivers (``ImuDriver`` protocol).
- :mod:`firmware_bridge.sensor_map` — which chip on which channel/address is which segment.
- :mod:`firmware_bridge.acquisition` — one 7-IMU sample, missing sensors, retry with backoff.
- :mod:`firmware_bridge.sampler` — the fixed-rate loop on a monotonic clock.
- :mod:`firmware_bridge.calibration` — gyroscope bias and sagittal-plane alignment.
- :mod:`firmware_bridge.gpio` — status LED, record button, sync pulse (gpiozero).
- :mod:`firmware_bridge.emulation` — register-level emulated chips replaying arrays.
- :mod:`firmware_bridge.probe` — bus scan used by ``sspinn-edge probe``.

Nothing here imports ``edge`` or ``train``: the dependency points edge → firmware_bridge.
"""
