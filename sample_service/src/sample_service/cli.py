"""Command line: `sample-service serve|check-config [--config FILE]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sample_service import __version__
from sample_service.config import DEFAULT_CONFIG_PATH, ConfigError, load

# sysexits.h codes, which the kit's unit does not restart (RestartPreventExitStatus):
# neither fixes itself by trying again.
EXIT_CONFIG = 78  # EX_CONFIG: the config file is invalid
EXIT_DATA = 65  # EX_DATAERR: the data dir's database is not one this version can use


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sample-service", description=__doc__)
    p.add_argument("--version", action="version", version=__version__)
    sub = p.add_subparsers(dest="command", required=True)
    for name, helptext in (
        ("serve", "validate the config, then serve HTTP until SIGTERM"),
        ("check-config", "validate the config and exit"),
    ):
        sp = sub.add_parser(name, help=helptext)
        sp.add_argument("--config", type=Path, default=DEFAULT_CONFIG_PATH, help="config.toml")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load(args.config)
    except ConfigError as exc:
        print(f"sample-service: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "check-config":
        print(f"{args.config}: ok")
        return 0
    from sample_service import logs, server
    from sample_service.db import SchemaError

    logs.setup(config.log_level)
    try:
        server.serve(config)
    except SchemaError as exc:
        print(f"sample-service: database error: {exc}", file=sys.stderr)
        return EXIT_DATA
    return 0
