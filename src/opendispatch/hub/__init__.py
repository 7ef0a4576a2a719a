"""The in-game door: a SignalR hub the official resource connects to."""
