"""Exercise 3, style-transfer losses: exercise.py (yours to edit), solution.py, checks.py."""
