"""Archive the results of Synth policy-optimization jobs into SQL."""

__version__ = "0.1.0"

__all__ = ["__version__"]
