"""The exercises, one folder each: exercises/eNN_topic/ holds exercise.py (the starter you
edit), solution.py (the reference solution) and checks.py (what `python -m cs20 check` runs).

    python -m cs20 list
    python -m cs20 check e01 [FILE]
"""
