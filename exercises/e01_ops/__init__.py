"""Exercise 1, TensorFlow ops: exercise.py (yours to edit), solution.py, checks.py."""
