"""Edge side of SSPINNpose: recording format, inference runtime, MQTT daemon.

Runs on the Raspberry Pi. Depends on numpy, paho-mqtt, ai-edge-litert and
``firmware_bridge`` only, never on TensorFlow.
"""
