"""The table every list is: natural order, filter as you type with shown/total, Esc clears,
`s` sorts by the next column, low-priority columns hide when narrow, `y` copies (OSC 52)."""

from __future__ import annotations

from textual import events
from textual.app import App, ComposeResult

from coi_tui.ui.widgets.list_table import Column, ListTable, fit_columns, natural_key

COLUMNS = (
    Column("name", "Name", priority=0),
    Column("ip", "IPv4", priority=1, address=True),
    Column("mode", "Mode", priority=0),
    Column("flags", "Flags", priority=0),
    Column("project", "Project", priority=5),
    Column("veth", "Host veth", priority=4),
)
ROWS = {f"coi-lab-{n}": (f"coi-lab-{n}", f"10.147.0.{n}", "restricted" if n % 2 else "-",
                         "" if n % 2 else "UNPROTECTED", "a-long-project-name", f"veth{n:08d}")
        for n in (1, 2, 10, 11, 3)}


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield ListTable(COLUMNS, table_id="t", id="list")

    @property
    def list(self) -> ListTable:
        return self.query_one(ListTable)


def test_natural_order_puts_2_before_10() -> None:
    names = ["coi-lab-10", "coi-lab-2", "coi-lab-1", "coi-lab-11"]
    assert sorted(names, key=natural_key) == ["coi-lab-1", "coi-lab-2", "coi-lab-10",
                                              "coi-lab-11"]
    assert sorted(["10.0.0.10", "10.0.0.9"], key=natural_key) == ["10.0.0.9", "10.0.0.10"]


def test_name_mode_and_flags_stay_when_even_the_address_does_not_fit() -> None:
    widths = [12, 14, 10, 11, 20, 12]
    assert set(fit_columns(COLUMNS, widths, 40)) == {"name", "mode", "flags"}
    assert set(fit_columns(COLUMNS, widths, 60)) == {"name", "ip", "mode", "flags"}
    assert set(fit_columns(COLUMNS, widths, 200)) == {c.key for c in COLUMNS}


async def test_rows_sort_naturally_and_low_columns_hide_at_80_but_show_at_160() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        app.list.show_rows(ROWS)
        await pilot.pause()
        assert app.list.shown_keys() == ["coi-lab-1", "coi-lab-2", "coi-lab-3", "coi-lab-10",
                                         "coi-lab-11"]
        narrow = app.list.shown_columns()
        assert {"name", "mode", "flags"} <= set(narrow)
        assert "project" not in narrow
        table = app.list.data
        assert sum(c.get_render_width(table) for c in table.columns.values()) <= 80
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        assert set(app.list.shown_columns()) == {c.key for c in COLUMNS}


async def test_slash_filters_as_you_type_shows_the_counts_and_escape_clears() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        app.list.show_rows(ROWS)
        app.list.data.focus()
        await pilot.press("slash", *"unprot")
        await pilot.pause()
        assert app.list.shown_keys() == ["coi-lab-2", "coi-lab-10"]
        assert app.list.counts == (2, 5)
        assert str(app.list.query_one(".list-count").render()) == "2/5"
        await pilot.press("enter")  # back to the table, the filter stays
        assert app.focused is app.list.data
        await pilot.press("escape")
        await pilot.pause()
        assert app.list.counts == (5, 5)
        await pilot.press("slash", *"!lab-1")
        await pilot.pause()
        assert app.list.shown_keys() == ["coi-lab-2", "coi-lab-3"]


async def test_s_sorts_by_the_next_column_and_S_reverses() -> None:
    app = Host()
    async with app.run_test(size=(160, 24)) as pilot:
        app.list.show_rows(ROWS)
        app.list.data.focus()
        await pilot.press("s")  # by IPv4, naturally: .1 .2 .3 .10 .11
        await pilot.pause()
        assert app.list.shown_keys()[:3] == ["coi-lab-1", "coi-lab-2", "coi-lab-3"]
        await pilot.press("s")  # by mode: "-" before "restricted"
        await pilot.pause()
        assert app.list.shown_keys()[:2] == ["coi-lab-2", "coi-lab-10"]
        await pilot.press("S")
        await pilot.pause()
        assert app.list.shown_keys()[0] == "coi-lab-11"
        assert "Mode v" in [str(c.label) for c in app.list.data.columns.values()]


async def test_y_copies_the_name_and_Y_the_address_of_the_row_at_the_cursor() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        app.list.show_rows(ROWS)
        app.list.data.focus()
        await pilot.press("j", "y")
        assert app.clipboard == "coi-lab-2"
        await pilot.press("G", "Y")
        assert app.clipboard == "10.147.0.11"
        await pilot.press("g", "y")
        assert app.clipboard == "coi-lab-1"


async def test_keys_typed_at_once_after_slash_all_reach_the_filter_and_slash_is_a_character(
) -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        app.list.show_rows(ROWS)
        app.list.data.focus()
        await pilot.pause()
        for character in "/10.147.0.1/":  # in one burst, as tmux or a paste sends them
            app.post_message(events.Key("slash" if character == "/" else character, character))
        await pilot.pause(0.3)
        assert app.list.filter_text == "10.147.0.1/"
