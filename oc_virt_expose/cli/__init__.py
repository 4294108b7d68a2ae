"""The command-line layer: the parser, the one error boundary (`main`), completion. `--help`, `--version`,
usage errors and completion import this layer and nothing of `access`."""

from oc_virt_expose.cli.main import main

__all__ = ["main"]
