"""digitocr: read the numbers on a screen."""

__version__ = "0.1.0"
