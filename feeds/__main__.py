"""``python -m feeds`` runs the command-line interface (see :mod:`feeds.app.console`)."""

from feeds.app.console import main

if __name__ == "__main__":
    main()
