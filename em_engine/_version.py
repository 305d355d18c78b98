"""The application's version, shared by the engine, the GUI, the CLI and model files."""

__version__ = "0.1.0"
