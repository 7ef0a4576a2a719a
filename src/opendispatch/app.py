"""Build the ASGI application from explicit settings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.asyncio import Redis

from opendispatch import __version__
from opendispatch.accounts import routes as account_routes
from opendispatch.admin import member_routes
from opendispatch.admin import routes as admin_routes
from opendispatch.admin import server_routes as admin_server_routes
from opendispatch.api import redis_gcra
from opendispatch.api.gcra import Limiter, RateLimiter
from opendispatch.api.middleware import BodySizeLimit
from opendispatch.api.openapi import install_openapi
from opendispatch.api.problems import install_problem_handlers
from opendispatch.api.routing import prefer_literal_segments
from opendispatch.api.state import AppState
from opendispatch.calls import routes as call_routes
from opendispatch.calls.service import remove_due_calls
from opendispatch.clock import Clock, SystemClock
from opendispatch.communities import routes as community_routes
from opendispatch.communities.service import KeyCache
from opendispatch.events import routes as event_routes
from opendispatch.events.service import NEW_DELIVERIES, NEW_EVENTS
from opendispatch.events.tasks import (
    DeliveryPolicy,
    DeliveryWorker,
    StreamBroker,
    listen_for_other_processes,
)
from opendispatch.hub import routes as hub_routes
from opendispatch.hub.sessions import PushSockets
from opendispatch.legacy import routes as legacy_routes
from opendispatch.maps import routes as map_routes
from opendispatch.maps.schemas import POSTAL_BODY_BYTES
from opendispatch.ops import routes as ops_routes
from opendispatch.ops.health import ReadinessChecks, database_checks, redis_check
from opendispatch.ops.listener import metrics_listener
from opendispatch.ops.metrics import RequestTimer
from opendispatch.ops.retention import prune_forever
from opendispatch.settings import Settings
from opendispatch.storage.database import Database
from opendispatch.storage.migrate import upgrade
from opendispatch.units import routes as unit_routes
from opendispatch.units.positions import LivePositions
from opendispatch.units.service import UNITS_MOVED
from opendispatch.web import routes as web_routes

log = logging.getLogger(__name__)


async def remove_expired_calls(state: AppState) -> None:
    """Remove the calls past their deleteAfterMinutes deadline (a failure is logged, and tried next time)."""
    try:
        removed = await state.db.write(remove_due_calls, now=state.clock.now_ms())
    except Exception:
        log.exception("removing expired calls failed; trying again")
        return
    count = sum(map(len, removed.emergency.values())) + sum(map(len, removed.dispatch.values()))
    if count:
        log.info("removed %d call(s) past their deleteAfterMinutes deadline", count)


async def remove_expired_calls_forever(state: AppState) -> None:
    """Remove expired calls every few seconds (the first sweep runs before the server takes requests)."""
    while True:
        await asyncio.sleep(state.settings.expiry_interval_seconds)
        await remove_expired_calls(state)


# Idle live streams get a comment this often, so proxies keep them open (and the console rechecks its
# session at the same pace).
SSE_KEEPALIVE_SECONDS = 15.0


def delivery_policy(settings: Settings) -> DeliveryPolicy:
    """The delivery worker's policy from settings."""
    return DeliveryPolicy(
        timeout_seconds=settings.push_timeout_seconds,
        backoff_base_seconds=settings.push_backoff_base_seconds,
        backoff_max_seconds=settings.push_backoff_max_seconds,
        max_age_seconds=settings.push_max_age_seconds,
        poll_seconds=settings.push_poll_seconds,
    )


def rate_limiters(settings: Settings, redis: Redis | None, *, server_time: bool) -> tuple[Limiter, Limiter]:
    """The API's limiter and the login throttle's: in Redis when one is set (a fleet), else in-process."""
    if redis is None:
        return RateLimiter(enabled=settings.rate_limits_enabled), RateLimiter()
    # Down, the two differ (docs/api.md, Rate limits): API requests are the dispatch work itself, sent with
    # authenticated, revocable keys, so each process goes on counting them alone; a login let through
    # uncounted is a free password guess, and open sessions (12 h) outlast an outage, so logins wait.
    api: Limiter = (
        redis_gcra.RedisLimiter(
            redis,
            "opendispatch:rate:",
            when_down=redis_gcra.WhenDown.COUNT_LOCALLY,
            server_time=server_time,
            what="API requests",
        )
        if settings.rate_limits_enabled
        else RateLimiter(enabled=False)
    )
    logins = redis_gcra.RedisLimiter(
        redis,
        "opendispatch:login:",
        when_down=redis_gcra.WhenDown.REFUSE,
        server_time=server_time,
        what="console logins",
    )
    return api, logins


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The OpenDispatch application: migrations applied on start, writer thread and expiry running."""
    settings = settings or Settings()
    database = Database(
        settings.database_url,
        write_batch_size=settings.write_batch_size,
        write_gather_seconds=settings.write_gather_ms / 1000,
    )
    if not settings.open_call_bounds:
        # Read by calls.service on the connection it is given: every door shares this database.
        database.engine.update_execution_options(open_call_bounds=False)
    redis = redis_gcra.connect(settings.redis_url) if settings.redis_url else None
    # An injected clock (tests move it by hand) is obeyed; the real one is the Redis server's own.
    limiter, login_limiter = rate_limiters(settings, redis, server_time=clock is None)
    state = AppState(
        settings=settings,
        db=database,
        clock=clock or SystemClock(),
        limiter=limiter,
        login_limiter=login_limiter,
        keys=KeyCache(settings.key_cache_seconds),
    )

    broker = StreamBroker(database)
    push_sockets = PushSockets()
    worker = DeliveryWorker(database, state.clock, delivery_policy(settings), push_sockets)
    database.on_commit(NEW_EVENTS, broker.committed)
    positions = LivePositions(database, broker, save_seconds=settings.position_save_seconds)
    database.on_commit(UNITS_MOVED, positions.committed)
    if settings.push_worker:
        database.on_commit(NEW_DELIVERIES, worker.wake)
    # /readyz runs these; the Redis check joins them when Redis is configured.
    readiness = ReadinessChecks(database_checks(database))
    if redis is not None:
        readiness.add(redis_check(redis))
    metrics = metrics_listener(settings, database, state.clock, subscribers=broker.subscriber_count)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        upgrade(database.engine)
        database.start()
        # Calls whose deadline passed while the server was down are gone before the first request.
        await remove_expired_calls(state)
        tasks = [
            asyncio.create_task(remove_expired_calls_forever(state)),
            asyncio.create_task(broker.keep_alive_forever(SSE_KEEPALIVE_SECONDS)),
        ]
        tasks.append(asyncio.create_task(push_sockets.keep_leases(database, state.clock)))
        tasks.append(asyncio.create_task(positions.save_forever()))
        tasks.append(asyncio.create_task(prune_forever(state)))
        if settings.push_worker:
            tasks.append(asyncio.create_task(worker.run_forever()))
        if not database.is_sqlite:
            listening = worker if settings.push_worker else None
            tasks.append(
                asyncio.create_task(
                    listen_for_other_processes(settings.database_url, broker, listening, positions.heard)
                )
            )
        if metrics is not None:
            await metrics.start()
        try:
            yield
        finally:
            if metrics is not None:
                await metrics.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await database.drain()
            database.close()
            if redis is not None:
                await redis.aclose()

    app = FastAPI(
        title="OpenDispatch",
        version=__version__,
        summary="Self-hosted dispatch server speaking the Sonoran CAD emergency-call API.",
        lifespan=lifespan,
        # FastAPI asks OpenTelemetry on every request whether it is configured; off unless wanted.
        telemetry={"tracing": settings.telemetry, "metrics": settings.telemetry, "logs": settings.telemetry},
    )
    app.state.opendispatch = state
    app.state.broker = broker
    app.state.push_sockets = push_sockets
    app.state.positions = positions
    app.state.readiness = readiness
    app.state.metrics = metrics
    install_problem_handlers(app)
    # A community's whole postal list comes in one request (the in-game resource sends it at start).
    postal_bodies = {"/v2/general/postals": POSTAL_BODY_BYTES, "/general/set_postals": POSTAL_BODY_BYTES}
    # The admin pages' uploads (a map image, six map tiles, a postal file) are the request body itself.
    uploads = {**postal_bodies, **admin_server_routes.UPLOAD_LIMITS}
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, larger=uploads)
    if metrics is not None:
        app.add_middleware(RequestTimer)  # outermost: it times the 413s too
    app.include_router(call_routes.router)
    app.include_router(community_routes.router)
    app.include_router(unit_routes.router)
    app.include_router(account_routes.router)  # general accounts, API ids, secrets, link codes
    app.include_router(event_routes.router)
    app.include_router(map_routes.router)
    app.include_router(ops_routes.router)  # /healthz and /readyz, no key
    app.include_router(web_routes.router)  # the console, its assets and its two v2 endpoints
    app.include_router(admin_routes.admin)  # the admin pages and their API
    app.include_router(member_routes.members)  # members and units (admin), invites, a member's own page
    app.include_router(admin_server_routes.servers)  # their servers, API keys, plan and limits
    app.router.routes.extend(hub_routes.routes())  # the in-game resource's SignalR hub
    app.include_router(legacy_routes.router)  # last: its POST /{area}/{type} catch-all shadows nothing
    prefer_literal_segments(app.router.routes)  # PATCH .../dispatch-calls/close is a 405, not callId "close"
    install_openapi(app)
    return app
