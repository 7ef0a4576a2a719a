"""The dispatcher console: login, the live board, the map, location snapshots and nearest units."""
