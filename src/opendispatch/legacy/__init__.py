"""The v1 legacy API: plain-text answers to `{id, key, type, data}` requests, onto the v2 services."""
