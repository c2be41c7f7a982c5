"""Data checks for the golden production pattern library (services/patterns/library)."""
