"""Running the service: health probes for load balancers and metrics for Prometheus.

- ``health``: the named readiness checks (database, schema; Redis joins them when configured).
- ``metrics``: the process's instruments (request latency, delivery attempts, rate-limit refusals).
- ``listener``: the separate metrics listener and what it reads at each scrape (outbox, streams, pool).
- ``routes``: ``/healthz`` and ``/readyz`` on the API port.
"""
