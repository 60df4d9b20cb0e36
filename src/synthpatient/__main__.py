"""``python -m synthpatient`` runs the command line."""

from synthpatient.cli import main

main()
