"""Rasa assets of the campus help desk (custom components run in the Rasa environment only)."""
