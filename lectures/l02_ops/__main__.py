"""python -m lectures.l02_ops [flags]: flags first, then the lesson (lecture.py)."""

from cs20 import cli

cli.main_of(__package__)()
