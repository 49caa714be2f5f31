"""``python -m fiable`` runs the command line."""

from fiable.cli import run

run()
