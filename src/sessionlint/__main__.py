"""``python -m sessionlint``."""

from sessionlint.cli import main

if __name__ == "__main__":
    main()
