"""Register maps as named constants, one module per chip, with datasheet references.

Shared physical constants live here so drivers and emulated chips convert the same way.
"""

STANDARD_GRAVITY = 9.80665  # m/s² per g (the "g" of datasheet sensitivities)
