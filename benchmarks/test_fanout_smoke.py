"""The WebSocket fan-out benchmark (benchmarks/fanout/run.py), small: 20 subscribers and
20 messages on every setup, bare and Starlette + broadcaster, memory:// on one uvicorn
worker and a real redis-server behind two. Every subscriber must receive every message
of both measured phases, in order, and the figures must be figures.

It needs Debian's redis-server (tests/redis_server.py) and fails without it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fanout.run import SETUPS, run

SUBSCRIBERS = 20
MESSAGES = 20
PACED = 10
BURSTS = 2


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return run(
        subscribers=SUBSCRIBERS,
        messages=MESSAGES,
        paced=PACED,
        rate=200.0,
        size=160,
        placement="free",  # pinning would pin this pytest process too
        rounds=BURSTS,
    )


def test_every_setup_ran(report: dict[str, Any]) -> None:
    ran = [(r["framework"], r["backend"], r["workers"]) for r in report["results"]]
    assert ran == [(s.framework, s.backend, s.workers) for s in SETUPS]
    assert set(report["ratios"]["msgs_per_second"]) == {"memory", "redis"}
    assert all(ratio > 0 for ratio in report["ratios"]["msgs_per_second"].values())


@pytest.mark.parametrize("index", range(len(SETUPS)), ids=[s.name for s in SETUPS])
def test_every_subscriber_got_every_message_in_order(report: dict[str, Any], index: int) -> None:
    result = report["results"][index]
    assert result["subscribers"] == SUBSCRIBERS
    assert result["closed_by_server"] == 0
    assert result["lost"] == result["out_of_order"] == 0
    assert len(result["bursts"]) == BURSTS
    assert result["burst"] in result["bursts"]
    phases = [(figures, MESSAGES) for figures in result["bursts"]] + [(result["paced"], PACED)]
    for figures, published in phases:
        assert figures["published"] == published
        assert figures["delivered"] == figures["deliveries_expected"] == published * SUBSCRIBERS
        assert figures["lost"] == 0
        assert figures["out_of_order"] == 0
        assert figures["seconds"] > 0
        assert figures["delivered_per_second"] > 0
        assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    # The servers' CPU time is read in clock ticks (10 ms): 400 deliveries may take less.
    assert result["servers_us_per_delivery"] >= 0
    assert result["burst"]["client_us_per_delivery"] > 0


def test_the_table_names_every_setup(report: dict[str, Any]) -> None:
    from fanout.run import table

    text = table(report)
    assert text.count("| 20 |") == len(SETUPS)
    assert "bare / Starlette+broadcaster" in text


def test_the_check_counts_what_is_lost_or_out_of_order() -> None:
    """The subscribers' check is not vacuous: a gap, a message out of order and a close
    by the server are all counted."""
    from fanout.run import Phase, Subscriber, message

    class Connection:  # what a server that loses and reorders would send
        close_code = 1013

        def __init__(self, texts: list[str]) -> None:
            self.texts = texts

        async def _frames(self) -> Any:
            for text in self.texts:
                yield text

        def __aiter__(self) -> Any:
            return self._frames()

    async def scenario() -> tuple[Phase, Subscriber]:
        burst = Phase(4, 1)
        texts = [message("w", 0, 160), *(message("b0", seq, 160) for seq in (0, 2, 1))]
        subscriber = Subscriber(Connection(texts), {"b0": burst}, Phase(1, 1))  # type: ignore[arg-type]
        await subscriber.run()
        return burst, subscriber

    burst, subscriber = asyncio.run(scenario())
    summary = burst.summary()
    assert (summary["delivered"], summary["lost"], summary["out_of_order"]) == (3, 1, 2)
    assert subscriber.warmed
    assert subscriber.closed == "1013"
    assert len(message("b0", 12, 160)) == 160
