"""make bench: timing side by side and API request counts (see __main__.py)."""
