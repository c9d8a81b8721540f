"""Over SSH and in tmux: no animation, no emoji, and with NO_COLOR the same words."""

from __future__ import annotations

from pathlib import Path

import pytest

from coi_tui.ui.actions import ACTIONS
from coi_tui.ui.app import LEGENDS
from tests.unit.test_action_table import app_on
from tests.waiting import wait_until


def test_every_key_help_and_legend_is_plain_ascii() -> None:
    texts = [t for a in ACTIONS for t in (a.label, a.help, a.display or "")]
    texts += [t for legend in LEGENDS.values() for pair in legend for t in pair]
    assert [t for t in texts if not t.isascii()] == []


async def test_with_no_color_the_flags_are_the_same_words_and_nothing_animates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = app_on(tmp_path, ["coi-a", "coi-b"])
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(lambda: app.containers_view.rows_list.counts[1] == 2)
        await pilot.pause(0.3)
        assert app.no_color and app.animation_level == "none"
        lines = [strip.text for strip in app.screen._compositor.render_strips()]
        assert sum("UNPROTECTED" in line for line in lines) == 2
        assert any("unprotected" in line for line in lines[:1])  # the header's count
