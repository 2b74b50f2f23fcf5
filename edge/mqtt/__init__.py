"""MQTT side of the edge daemon: topics, publishing, commands, and a local broker launcher."""
