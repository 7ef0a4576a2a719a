"""Push events: written with the change that caused them, delivered at least once, streamed live."""
