"""Run `dflash-tui models ...` from add_models_parser alone, as cli.py wires it (used by subprocess tests)."""

import argparse
import sys

from dflash_tui.hub.cli_commands import add_models_parser

parser = argparse.ArgumentParser(prog="dflash-tui")
add_models_parser(parser.add_subparsers(dest="command"))
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
