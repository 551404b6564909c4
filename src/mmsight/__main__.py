"""``python -m mmsight`` runs the command line."""

from mmsight.cli import main

main()
