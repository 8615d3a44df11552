"""specc's version: the wheel's metadata (pyproject reads it from here) and exported models."""
__version__ = "0.1.0"
