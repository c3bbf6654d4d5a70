"""Presentation: text and HTML reprs and the formatters for money, tokens and durations."""
