"""The plan review in an 80x24 terminal: a 30-line nft transaction scrolls, each line is one
row (elided, not wrapped), and Cancel / Apply stay on screen."""

from __future__ import annotations

from textual.app import App
from textual.widgets import Button, Static

from coi_tui.eras.nft.era import NftTransaction, ScriptPart
from coi_tui.plans import Plan
from coi_tui.ui.paths import stylesheets
from coi_tui.ui.screens.plan_review import PlanReview

IP = "10.147.0.126"
LINES = tuple(f"add rule ip coi forward ip saddr {IP} ip daddr 203.0.113.{n}/32 meta l4proto "
              f"{{ tcp, udp }} th dport 443 accept comment \"coi-{IP}\"" for n in range(30))


class Host(App[None]):
    CSS_PATH = stylesheets()


async def test_a_long_transaction_fits_80x24_with_its_buttons_visible() -> None:
    part = ScriptPart("coi-lab-1", LINES, lambda state: "")
    plan = Plan((NftTransaction((part,), "allowlist for coi-lab-1"),), "allowlist for coi-lab-1")
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        review = PlanReview(plan)
        await app.push_screen(review)
        await pilot.pause()
        screen = app.screen.region
        for button in review.query(Button):
            assert screen.contains_region(button.region), button.id
        rows = [w for w in review.query("#plan-steps Static") if isinstance(w, Static)]
        assert len(rows) == 30
        assert all(w.region.height == 1 for w in rows if w.region.height)
        summary = review.query_one("#plan-summary")
        assert summary.region.height == 1
        assert str(summary.render()).startswith("one transaction, 30 lines")
