"""``python -m skvae``: the command line, as the ``skvae`` script."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main(prog="skvae"))
