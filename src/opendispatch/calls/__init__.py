"""911 calls and dispatch calls."""
