"""``python -m actions.recommender``: see :mod:`actions.recommender.cli`.

rasa-sdk imports every module of the ``actions`` package at start-up, this one
included, so the command line only runs under ``python -m``.
"""

import sys

if __name__ == "__main__":
    from actions.recommender.cli import main

    sys.exit(main())
