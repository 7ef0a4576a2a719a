"""Accounts, their identifiers (units) and which one each account has selected per server."""
