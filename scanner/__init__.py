"""cii-scan: an agentless audit scanner for critical information infrastructure hosts."""

__version__ = "0.1.0"
