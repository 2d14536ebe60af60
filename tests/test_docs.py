"""The documentation lists exactly the settings `guichet.core.conf.SETTINGS` declares."""

from __future__ import annotations

import re

from guichet.core.conf import BASE_DIR, SETTINGS

SETTINGS_DOC = BASE_DIR / "docs" / "settings.md"
ROW = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|", re.MULTILINE)


def _documented() -> list[str]:
    return ROW.findall(SETTINGS_DOC.read_text(encoding="utf-8"))


def test_every_declared_setting_is_documented() -> None:
    missing = {s.name for s in SETTINGS} - set(_documented())
    assert not missing, f"add these settings to docs/settings.md: {sorted(missing)}"


def test_every_documented_setting_is_declared() -> None:
    unknown = set(_documented()) - {s.name for s in SETTINGS}
    assert not unknown, f"docs/settings.md lists settings that do not exist: {sorted(unknown)}"


def test_documented_once_with_type_and_default() -> None:
    documented = _documented()
    assert len(documented) == len(set(documented)), "a setting is listed twice"
    text = SETTINGS_DOC.read_text(encoding="utf-8")
    for setting in SETTINGS:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{setting.name}`"))
        assert f"| {setting.type} |" in row, f"{setting.name}: type should be {setting.type}"
        if setting.default and not setting.secret and setting.name != "DATA_DIR":
            assert f"`{setting.default}`" in row, f"{setting.name}: default should be shown"


def test_readme_links_the_docs() -> None:
    readme = (BASE_DIR / "README.md").read_text(encoding="utf-8")
    for page in ("docs/settings.md", "docs/operations.md", "docs/architecture.md"):
        assert page in readme
        assert (BASE_DIR / page).is_file()
