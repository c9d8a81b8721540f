"""A container's tracked flows: conntrack's XML read into flows, named, capped with a count of
the rest, problems in one line; the flows screen opened from the Containers view, read off
the UI thread, refreshed, closed with Esc, and whole at 80x24."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Button

from coi_tui.backends.conntrack import TrackedFlow, accounting, enable_accounting, parse_flows_xml
from coi_tui.errors import BackendUnavailable, CoiTuiError, PermissionDenied
from coi_tui.models import Container
from coi_tui.services.traffic.flows import (
    FlowReader,
    FlowReport,
    flow_report,
    short_count,
    short_duration,
)
from coi_tui.ui.app import CoiApp
from coi_tui.ui.screens.flows import FlowsScreen
from tests.unit.test_config_view import app_with_config
from tests.waiting import wait_until

IP = "10.147.0.7"
C = Container("coi-a", "default", "Running", IP, "veth1", "incusbr0", None)


def xml_flow(dst: str, dport: int, state: str | None, proto: str = "tcp",
             counters: tuple[int, int, int, int] | None = None, unreplied: bool = False) -> str:
    def meta(direction: str, src: str, to: str, sport: int, dp: int, count: str) -> str:
        number = 6 if proto == "tcp" else 17
        return (f'<meta direction="{direction}"><layer3 protonum="2" protoname="ipv4">'
                f"<src>{src}</src><dst>{to}</dst></layer3>"
                f'<layer4 protonum="{number}" protoname="{proto}"><sport>{sport}</sport>'
                f"<dport>{dp}</dport></layer4>{count}</meta>")

    sent = received = ""
    if counters:
        sent = f"<counters><packets>{counters[0]}</packets><bytes>{counters[1]}</bytes></counters>"
        received = (f"<counters><packets>{counters[2]}</packets><bytes>{counters[3]}</bytes>"
                    "</counters>")
    independent = (f'<meta direction="independent">{f"<state>{state}</state>" if state else ""}'
                   f"<timeout>117</timeout><mark>0</mark><use>1</use><id>4</id>"
                   f"{'<unreplied/>' if unreplied else '<assured/>'}</meta>")
    return ("<flow>" + meta("original", IP, dst, 40000 + dport, dport, sent)
            + meta("reply", dst, IP, dport, 40000 + dport, received) + independent + "</flow>")


def document(*flows: str) -> str:
    return '<?xml version="1.0" encoding="utf-8"?>\n<conntrack>\n' + "\n".join(flows) + \
        "\n</conntrack>\n"


def test_conntracks_xml_is_read_with_bytes_only_when_accounting_counts_them() -> None:
    flows = parse_flows_xml(document(
        xml_flow("203.0.113.10", 80, "ESTABLISHED", counters=(5, 320, 4, 5400)),
        xml_flow("10.147.0.1", 53, None, proto="udp", unreplied=True)))
    web, dns = flows
    assert (web.protocol, web.destination, web.dport, web.state) == (
        "tcp", "203.0.113.10", 80, "ESTABLISHED")
    assert (web.sent_bytes, web.received_bytes, web.sent_packets, web.timeout) == (
        320, 5400, 5, 117)
    assert web.assured and not web.unreplied
    assert (dns.protocol, dns.state, dns.unreplied, dns.sent_bytes) == ("udp", None, True, None)
    assert parse_flows_xml("") == ()
    with pytest.raises(CoiTuiError, match="unreadable XML"):
        parse_flows_xml("<conntrack><flow>")


def tracked(dst: str, dport: int, state: str | None = "ESTABLISHED") -> TrackedFlow:
    return TrackedFlow("tcp", IP, dst, 40000, dport, state)


def test_a_report_names_destinations_puts_live_flows_first_and_counts_the_rest() -> None:
    flows = [tracked("203.0.113.20", 443, "TIME_WAIT"), tracked("203.0.113.10", 80),
             tracked("203.0.113.9", 22), replace(tracked("10.147.0.1", 53, None), protocol="udp",
                                                 unreplied=True)]
    names = {"203.0.113.10": "www.lab.test"}
    report = flow_report(C, flows, names=names.get, limit=3, accounting=False)
    assert [(f.destination, f.port) for f in report.flows] == [
        ("10.147.0.1", 53), ("203.0.113.9", 22), ("203.0.113.10", 80)]
    assert report.total == 4 and report.more == 1
    assert report.flows[2].name == "www.lab.test" and report.flows[1].name is None
    assert report.flows[0].state == "UNREPLIED"
    record = report.record()
    assert (record["total"], record["shown"], record["more"], record["accounting"]) == (
        4, 3, 1, False)
    assert record["flows"][2] == {  # type: ignore[index]
        "protocol": "tcp", "destination": "203.0.113.10", "dport": 80, "sport": 40000,
        "state": "ESTABLISHED", "name": "www.lab.test", "sent_bytes": None,
        "received_bytes": None, "timeout": None}


def test_the_reader_says_in_one_line_what_went_wrong() -> None:
    def refused(ip: str) -> tuple[TrackedFlow, ...]:
        raise PermissionDenied("cannot list tracked flows: sudo: a password is required")

    report = FlowReader(list_flows=refused, accounting=lambda: False)(C)
    assert report.problem == "cannot list tracked flows: sudo: a password is required"
    assert report.flows == () and report.total == 0
    no_ip = FlowReader(list_flows=refused)(replace(C, ipv4=None))
    assert no_ip.problem == "coi-a has no IPv4: no tracked flows"


def test_accounting_is_read_and_switched_on_only_through_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    switch = tmp_path / "nf_conntrack_acct"
    switch.write_text("0\n")
    assert accounting(switch) is False
    enable_accounting(switch)
    assert accounting(switch) is True
    assert accounting(tmp_path / "absent") is None
    with pytest.raises(BackendUnavailable, match="cannot switch on flow accounting"):
        enable_accounting(tmp_path)  # not a switch at all

    def refused(self: Path, text: str) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "write_text", refused)
    with pytest.raises(PermissionDenied, match=r"host-wide\) needs root: sudo sysctl -w "):
        enable_accounting(switch)


def test_short_counts_and_durations() -> None:
    assert [short_count(n) for n in (None, 0, 999, 1000, 1234567, 5 * 10**12)] == [
        None, "0", "999", "1.0k", "1.2M", "5.0T"]
    assert [short_duration(s) for s in (None, 0, 119, 120, 7300, 431998)] == [
        None, "0s", "119s", "2m", "2h", "4d"]


class Reader:
    """Counts its calls and the threads it runs in."""

    def __init__(self) -> None:
        self.calls: list[bool] = []  # True: ran on the UI thread
        self.ui_thread: int | None = None

    def __call__(self, container: Container) -> FlowReport:
        import threading

        self.calls.append(threading.get_ident() == self.ui_thread)
        flows = [tracked("203.0.113.10", 80), tracked("203.0.113.20", 443, "TIME_WAIT")]
        return flow_report(container, flows, limit=1, accounting=False)


def app_with_flows(tmp_path: Path, reader: Reader) -> CoiApp:
    app = app_with_config(tmp_path)[0]
    return CoiApp(replace(app.wiring, flows=reader), poll_interval=0.2)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
async def test_F_opens_the_flows_of_the_container_off_the_ui_thread_and_esc_closes_it(
    tmp_path: Path, size: tuple[int, int],
) -> None:
    import threading

    reader = Reader()
    app = app_with_flows(tmp_path, reader)
    async with app.run_test(size=size) as pilot:
        reader.ui_thread = threading.get_ident()
        await wait_until(lambda: app.containers_view.selected() is not None)
        await pilot.press("F")
        await wait_until(lambda: isinstance(app.screen, FlowsScreen))
        screen = app.screen
        assert isinstance(screen, FlowsScreen)
        await wait_until(lambda: screen.rows_list.counts == (1, 1))
        key = screen.rows_list.shown_keys()[0]
        assert screen.rows_list.cell(key, "dest") == "203.0.113.10"
        assert screen.rows_list.cell(key, "state") == "ESTABLISHED"
        summary = str(screen.query_one("#flows-summary").render())
        assert "2 tracked flows (1 shown, 1 more)" in summary
        assert "--accounting" in summary
        columns = screen.rows_list.shown_columns()
        assert {"proto", "dest", "port", "state"} <= set(columns)
        table = screen.rows_list
        width = sum(c.get_render_width(table.data) for c in table.data.columns.values())
        assert width <= table.region.width
        for widget in (screen.query_one("#flows-hint"), screen.query_one("#flows-title"),
                       *screen.query(Button)):
            assert screen.region.contains_region(widget.region)
        await wait_until(lambda: len(reader.calls) >= 2, timeout=5)  # read again, every 2 s
        assert not any(reader.calls)  # never on the UI thread
        await pilot.press("escape")
        await wait_until(lambda: not isinstance(app.screen, FlowsScreen))
        calls = len(reader.calls)
        await pilot.pause(2.5)
        assert len(reader.calls) == calls  # closed: no more reads
