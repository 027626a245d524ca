"""civlake: a lakehouse for city civil-affairs (民政) data."""

__version__ = "0.1.0"
