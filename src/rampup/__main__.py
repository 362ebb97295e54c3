"""``python -m rampup`` runs the CLI."""

from rampup.cli import main

if __name__ == "__main__":
    main()
