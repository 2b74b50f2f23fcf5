"""On-device inference: a bundle's single-step model in LiteRT, with its state carried."""

from edge.inference.estimator import Estimate, Estimator
from edge.inference.stepper import LiteRTStepper

__all__ = ["Estimate", "Estimator", "LiteRTStepper"]
