"""sample-service: a small JSON API shipped down the packaging gradient."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sample-service")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
