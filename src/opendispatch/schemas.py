"""Wire-format types shared by every domain."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

# Ids are stored as 64-bit integers; a larger number can name nothing, so it is a 400, not a lookup.
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=-MAX_ID, le=MAX_ID)]
