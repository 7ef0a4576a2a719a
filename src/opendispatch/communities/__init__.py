"""Communities, their servers, API keys and rate limits."""
