"""``python -m sessionlint``."""

from sessionlint.cli import run

if __name__ == "__main__":
    run()
