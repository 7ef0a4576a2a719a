"""Running the service: health probes for load balancers.

- ``health``: the named readiness checks (database, schema; Redis joins them when configured).
- ``routes``: ``/healthz`` and ``/readyz`` on the API port.
"""
