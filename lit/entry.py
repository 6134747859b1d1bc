"""The `lit` command's entry point. It imports nothing heavy, so Ctrl-C is honoured from the first
moment: before the CLI is loaded it exits 130 saying nothing was done."""

from __future__ import annotations

import os
import sys


def main() -> None:
    # A script's background job starts with SIGINT ignored, while the docker commands LIT runs take it
    # back: Ctrl-C would stop them under a LIT that carries on. Take it, so LIT stops too.
    from lit import interrupt

    interrupt.install()
    try:
        from lit.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted while starting: nothing was done\n  fix: run the command again\n")
        sys.stderr.flush()
        os._exit(130)  # not sys.exit: an interrupt inside an import would end the process as SIGINT's -2
    cli_main()
