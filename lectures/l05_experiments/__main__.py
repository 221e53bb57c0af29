"""python -m lectures.l05_experiments [flags]: flags first, then the lesson (lecture.py)."""

from cs20 import cli

cli.main_of(__package__)()
