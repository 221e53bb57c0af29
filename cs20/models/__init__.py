"""Models, one module each, readable on their own."""
