"""medai: validated, explainable, privacy-respecting AI models from real medical data."""

__version__ = "0.1.0"

__all__ = ["__version__"]
