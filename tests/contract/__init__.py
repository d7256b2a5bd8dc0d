"""The shared contract every layer's installed service must pass (DESIGN §4)."""
