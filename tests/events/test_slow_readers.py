"""A live stream whose reader does not read is closed once what waits for it passes a bound."""

from __future__ import annotations

import asyncio

from opendispatch.events.tasks import MAX_QUEUED_BYTES, StreamBroker
from opendispatch.storage.database import Database

FRAME = b"event: unit_positions\ndata: " + b"x" * 64 * 1024 + b"\n\n"


def test_a_reader_that_does_not_read_is_dropped_at_the_byte_bound(
    database_url: str, provision: object
) -> None:
    async def scenario() -> tuple[int, list[object]]:
        db = Database(database_url)
        db.start()
        try:
            broker = StreamBroker(db)
            stuck = broker.subscribe("c", 1, after=0)
            handed = 0
            while broker.subscriber_count():
                broker.hand_out_frame(("c", 1), FRAME)
                handed += 1
                assert handed < 1000, "never dropped"
            left = [stuck.queue.get_nowait() for _ in range(stuck.queue.qsize())]
            return handed, left
        finally:
            await db.drain()
            db.close()

    handed, left = asyncio.run(scenario())
    # Dropped at the frame that would have passed 4 MiB, its queue emptied but for the end of the stream.
    assert handed == MAX_QUEUED_BYTES // len(FRAME) + 1
    assert left == [None]
