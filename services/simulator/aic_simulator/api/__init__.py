"""HTTP routes of the simulator."""
