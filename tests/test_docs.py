"""The README documents every setting, so operators never meet an undocumented one."""

from __future__ import annotations

from pathlib import Path

from opendispatch.api.limits import DEFAULT_LIMITS
from opendispatch.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_readme_lists_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in Settings.model_fields if f"`OPENDISPATCH_{name.upper()}`" not in readme]
    assert missing == []


def test_api_docs_list_every_rate_limit_with_its_default() -> None:
    api = (ROOT / "docs" / "api.md").read_text()
    for endpoint, per_minute in DEFAULT_LIMITS.items():
        row = next((line for line in api.splitlines() if line.startswith(f"| `{endpoint}` |")), None)
        assert row is not None, endpoint
        assert f"| {per_minute}" in row, row
