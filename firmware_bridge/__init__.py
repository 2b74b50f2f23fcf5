"""Everything that touches hardware: I2C bus, multiplexer, IMU drivers, sampler, GPIO, emulation."""
