"""How a lecture exits: expected mistakes as one line, not a traceback.

    if __name__ == "__main__":
        cli.guard(main)

ValueError and FileNotFoundError are the user's to fix (bad flag value, missing data
file): one line on stderr, exit code 2. Set CS20_DEBUG=1 to see the traceback anyway.
"""

from __future__ import annotations

import os
import sys


def guard(main, argv=None) -> None:
    from cs20 import training  # deferred: `python -m cs20 list` should not load TensorFlow

    try:
        main(argv)
    except training.TrainingInterrupted as interrupted:
        print(interrupted, file=sys.stderr)
        sys.exit(interrupted.exit_code)
    except (ValueError, FileNotFoundError, training.NonFiniteLoss) as error:
        if os.environ.get("CS20_DEBUG"):
            raise
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1 if isinstance(error, training.NonFiniteLoss) else 2)
