"""Placeholder wiring; the command is being written."""

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    return None


def run(args: argparse.Namespace, settings) -> int:
    return 2
