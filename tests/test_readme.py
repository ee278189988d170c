"""
The README documents every setting: key, environment variable and default.
"""

from __future__ import annotations

from echohub.config import allSettings
from tests.support import ROOT


def settingsRow(setting: object) -> str:
    """
    The README table row for one setting.
    """
    from echohub.config import Setting

    assert isinstance(setting, Setting)
    default = " ".join(setting.default) if setting.kind is tuple else setting.default
    return f"| `{setting.name}` | `{setting.envName}` | `{default}` | {setting.doc} |"


def test_everySettingInReadme() -> None:
    """
    Each setting has its row, with the current default, in the README's
    settings table; a new or changed setting fails here until documented.
    """
    readme = (ROOT / "README.md").read_text()
    missing = [settingsRow(s) for s in allSettings() if settingsRow(s) not in readme]
    assert not missing, "add these rows to README.md:\n" + "\n".join(missing)
