"""ProPerSim's headless core. Never imports textual (a test enforces it)."""

__version__ = "0.1.0"
