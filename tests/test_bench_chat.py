"""bench/chat.py says when its run cannot be trusted: lost deliveries, refused messages, a
load generator too slow to measure the server."""

from __future__ import annotations

from typing import Any

from bench import chat as bench_chat


def result(**changes: Any) -> dict[str, object]:
    complete: dict[str, object] = {
        "deliveries": 40,
        "expected_deliveries": 40,
        "replies": 10,
        "expected_replies": 10,
        "errors": {"console": 0, "customer": 0},
        "error_texts": {},
        "lag": [0.001] * 100,
    }
    return {**complete, **changes}


def test_a_complete_run_has_no_missed_line() -> None:
    lines = bench_chat.verdict(result())
    assert not [line for line in lines if line.startswith(("MISSED", "GENERATOR"))]
    assert lines[0].startswith("load generator loop lag (ms): p50 1.0")


def test_lost_deliveries_and_replies_are_missed_lines() -> None:
    lines = bench_chat.verdict(result(deliveries=39, replies=7))
    assert "MISSED console deliveries: 39 of 40 expected" in lines
    assert "MISSED agent replies: 7 of 10 reached their customer" in lines


def test_refusals_are_missed_lines_with_the_reason() -> None:
    lines = bench_chat.verdict(
        result(errors={"console": 3, "customer": 0}, error_texts={"Too quickly.": 3})
    )
    assert lines[-1] == (
        "MISSED refused by the server: 0 customer message(s), 3 agent reply(ies): "
        "3 x 'Too quickly.'"
    )


def test_a_lagging_generator_is_reported() -> None:
    lines = bench_chat.verdict(result(lag=[0.2] * 100))
    assert any(line.startswith("GENERATOR LAGGING") for line in lines)
