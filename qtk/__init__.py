"""qtk: a toolkit for building, training, measuring and shipping small experimental LMs."""

__version__ = "0.1.0"
