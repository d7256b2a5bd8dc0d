"""tally: a tiny JSON item store (the kit's adopt test service)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tally-api")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"
