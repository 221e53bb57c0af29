"""Exercise 4, attention: exercise.py (yours to edit), solution.py, checks.py."""
