"""Training side of SSPINNpose: differentiable body model, data, network, losses (TensorFlow)."""
