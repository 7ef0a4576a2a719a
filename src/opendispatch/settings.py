"""Settings read from ``OPENDISPATCH_*`` environment variables."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator can set; the README lists each field with its variable."""

    model_config = SettingsConfigDict(env_prefix="OPENDISPATCH_", extra="ignore")

    database_url: str = Field(
        "sqlite:///opendispatch.db",
        description="SQLAlchemy URL of the database. SQLite files run in WAL mode.",
    )
    host: str = Field("127.0.0.1", description="Address `opendispatch serve` listens on.")
    port: int = Field(8080, ge=1, le=65535, description="Port `opendispatch serve` listens on.")
    max_body_bytes: int = Field(
        64 * 1024, ge=1024, description="Largest request body accepted; larger ones get 413."
    )
    redis_url: str | None = Field(
        None,
        description=(
            "Redis holding rate-limit and login-throttle state, shared by every `opendispatch serve` of a "
            "fleet (unset: kept in the process). If Redis is unreachable, API limits are counted by each "
            "process on its own and console logins are refused (503) until it answers."
        ),
    )
    rate_limits_enabled: bool = Field(
        True, description="Turn per-key rate limits off (benchmarks only; never in production)."
    )
    open_call_bounds: bool = Field(
        True,
        description=(
            "Turn off the bounds on open 911 and dispatch calls per server (benchmarks only, which create "
            "thousands a second on one server; never in production)."
        ),
    )
    expiry_interval_seconds: float = Field(
        5.0, gt=0, description="How often calls past their deleteAfterMinutes deadline are removed."
    )
    write_batch_size: int = Field(
        256, ge=1, description="Most requests committed together in one transaction."
    )
    write_gather_ms: float = Field(
        3.0,
        ge=0,
        le=50,
        description=(
            "After a commit, how long the next batch may wait for the requests it answered to come back "
            "with their next writes, so that one commit carries them all (0: start at once; after a "
            "batch of one write, as a lone client's, the next starts at once)."
        ),
    )
    key_cache_seconds: float = Field(
        2.0,
        ge=0,
        description="How long a checked API key is remembered; a revoked key works at most this long.",
    )
    position_save_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        description=(
            "How often unit positions from the hub are written to the database (they reach live streams "
            "at once); a crash loses at most this much of them."
        ),
    )
    position_stale_seconds: float = Field(
        30.0, gt=0, description="Age after which the console draws a unit's last position as stale."
    )
    event_retention_days: float = Field(
        7.0,
        gt=0,
        description=(
            "Finished push events (delivered, dead, skipped) and delivery attempts older than this are "
            "deleted; pending events and the call history never are."
        ),
    )
    prune_interval_seconds: float = Field(
        600.0, gt=0, description="How often old events, attempts, ended sessions and link codes are pruned."
    )
    max_connections: int = Field(
        1000,
        ge=16,
        description=(
            "Most HTTP connections open at once (lowered to stay 128 under the process's descriptor "
            "limit); beyond it the slowest waiting connection is closed, or the new one gets 503."
        ),
    )
    header_timeout_seconds: float = Field(
        10.0, gt=0, description="Time a request's headers have to arrive (else 408 and closed)."
    )
    body_timeout_seconds: float = Field(
        30.0, gt=0, description="Time a request's body has to arrive after its headers (else 408 and closed)."
    )
    push_worker: bool = Field(
        True, description="Deliver push events from the server process (off when `opendispatch worker` runs)."
    )
    push_timeout_seconds: float = Field(5.0, gt=0, description="Time a receiver has to answer one attempt.")
    push_backoff_base_seconds: float = Field(1.0, gt=0, description="Wait after the first failed attempt.")
    push_backoff_max_seconds: float = Field(300.0, gt=0, description="Longest wait between two attempts.")
    push_max_age_seconds: float = Field(
        86_400.0, gt=0, description="An event not delivered by this age is dead (until redelivered)."
    )
    push_poll_seconds: float = Field(
        1.0, gt=0, description="How often a worker looks for due events without being woken."
    )
    telemetry: bool = Field(
        False, description="Report OpenTelemetry traces, metrics and logs to the configured providers."
    )
    proxy_headers: bool = Field(
        False, description="Trust X-Forwarded-For/Proto from 127.0.0.1 (set when behind a reverse proxy)."
    )
    access_log: bool = Field(False, description="Log one line per request (costs throughput).")
    log_level: str = Field("info", description="Log level: debug, info, warning or error.")
    metrics_address: str = Field(
        "",
        description=(
            "host:port of a separate listener serving Prometheus metrics at /metrics; empty turns it off. "
            "It has no key: keep it on a private address, never the public API port."
        ),
    )
    metrics_outbox_servers: int = Field(
        100, ge=0, description="Most servers given their own outbox series, those waiting longest first."
    )

    @field_validator("metrics_address")
    @classmethod
    def _host_and_port(cls, value: str) -> str:
        # Refused when the settings are read, not when the listener is opened after migrations ran.
        if value:
            split_address(value)
        return value

    def metrics_listen(self) -> tuple[str, int] | None:
        """The metrics listener's host and port, or None when it is off."""
        return split_address(self.metrics_address) if self.metrics_address else None


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) as a host and a port; ValueError when it is neither."""
    host, colon, port = address.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        host = ""  # an IPv6 address without brackets: which colon starts the port is a guess
    if not (colon and host and port.isdigit() and int(port) <= 65535):
        raise ValueError(f"{address!r} is not host:port (an IPv6 host goes in brackets: [::1]:9100)")
    return host, int(port)
