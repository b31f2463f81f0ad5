"""matplotlib, imported only when a command is asked for a plot (the `plot` extra)."""

from qtk.errors import QtkError


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend, or a clear error when missing."""
    try:
        import matplotlib
    except ImportError:
        raise QtkError("--plot needs matplotlib: pip install 'qtk[plot]' (or matplotlib>=3.7)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
