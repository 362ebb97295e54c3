"""rampup."""
