"""The run's update service: a CoreUpdate/Nebraska-like Omaha server in its own process."""
