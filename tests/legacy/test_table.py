"""The table of v1 types is the one place a type's facts are written; the docs' table must say the same."""

from __future__ import annotations

import re
from pathlib import Path

from opendispatch.api.limits import DEFAULT_LIMITS
from opendispatch.legacy.service import TYPES

DOCS = Path(__file__).resolve().parent.parent.parent / "docs" / "v1.md"


def documented_types() -> dict[str, tuple[str, str]]:
    """Each row of the docs' types table: the type's name, then its plan and limit cells."""
    rows = {}
    for line in DOCS.read_text().splitlines():
        name = re.match(r"\| `([A-Z0-9_]+)`", line)
        if name:
            *_, plan, limit = line.strip(" |").split(" | ")
            rows[name.group(1)] = (plan, limit)
    return rows


def test_every_limited_type_counts_against_a_real_limit() -> None:
    assert {spec.endpoint for spec in TYPES.values()} - {None} <= set(DEFAULT_LIMITS)


def test_the_docs_list_every_type_with_its_plan_and_limit() -> None:
    documented = documented_types()
    assert sorted(documented) == sorted(TYPES)
    for name, spec in TYPES.items():
        plan, limit = documented[name]
        assert plan == spec.min_plan.name, name
        assert limit.startswith("none" if spec.endpoint is None else f"`{spec.endpoint}`"), name
        assert ("per request" in limit) == (not spec.per_item), name
