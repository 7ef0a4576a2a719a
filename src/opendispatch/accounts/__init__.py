"""Accounts as the general API sees them: lookup, API ids, secrets and in-game link codes."""
