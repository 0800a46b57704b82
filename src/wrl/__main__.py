"""``python -m wrl``: the ``wrl`` command."""
import sys

from wrl.cli import main

if __name__ == "__main__":  # spawned pool workers re-import this module under another name
    sys.exit(main())
