"""`voxstudio` command line: the CLI twin of the studio (same package functions as the pages).

Each sub-module of ``voxstudio.cli`` owns a group of commands and exposes ``register(subparsers)``;
every registered parser sets ``func`` to a callable ``(args) -> int`` (the exit code).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Command groups, in help order. A module that is missing is skipped (features land one by one).
GROUPS = ("dataset", "training", "publishing")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voxstudio", description="Fine-tune Voxtral on your own voice.")
    parser.add_argument("--home", help="data home (default: $VOXSTUDIO_HOME or ./workspace)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in GROUPS:
        try:
            module = importlib.import_module(f"voxstudio.cli.{group}")
        except ModuleNotFoundError as exc:
            if exc.name == f"voxstudio.cli.{group}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.home:
        os.environ["VOXSTUDIO_HOME"] = os.path.abspath(args.home)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (ValueError, FileNotFoundError, PermissionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
