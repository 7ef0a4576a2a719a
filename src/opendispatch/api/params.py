"""Path parameters of the v2 routes, each declared once with its range and description."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from opendispatch.schemas import MAX_ID

ServerId = Annotated[int, Path(ge=-MAX_ID, le=MAX_ID, description="Configured server ID.", examples=[1])]
CallId = Annotated[int, Path(ge=-MAX_ID, le=MAX_ID, description="Call ID.")]
IdentId = Annotated[int, Path(ge=-MAX_ID, le=MAX_ID, description="Identifier (unit) ID.")]
AccountUuid = Annotated[str, Path(max_length=64, description="The account's uuid.")]
TemplateId = Annotated[int, Path(ge=-MAX_ID, le=MAX_ID, description="Dispatch template ID.")]
