"""Retail kit availability pages: the kits (parts sold as one item, made of components) and,
per kit, its figures per site and across the network, with the future buckets drawn as a small
inline SVG bar chart (no script). Figures come from services.availability, as the API's
kitAvailability does; docs/web.md describes the page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kitwright.domain.availability import Figure
from kitwright.domain.errors import KitwrightError
from kitwright.services import availability, views
from kitwright.web.common import Runner, page, plain, quantity

CHART_WIDTH = 360
CHART_HEIGHT = 120
BAR_GAP = 6
MAX_BARS = 12  # on hand + the first 11 buckets; the table lists every bucket


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    label: str
    value: str
    future: bool


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    width: int
    height: int
    description: str


def chart(figure: Figure) -> Chart:
    """On hand, then each future increase by date, as bars scaled to the tallest."""
    points: list[tuple[str, Decimal, bool]] = [("on hand", figure.on_hand, False)]
    points += [(b.date.isoformat(), b.quantity, True) for b in figure.buckets[: MAX_BARS - 1]]
    top = max((q for _, q, _ in points), default=Decimal(0)) or Decimal(1)
    plot = CHART_HEIGHT - 30  # room for the labels below and the values above
    width = max(18, min(48, (CHART_WIDTH - BAR_GAP) // len(points) - BAR_GAP))
    bars = []
    for index, (name, value, future) in enumerate(points):
        height = int(plot * value / top) if value > 0 else 0
        bars.append(Bar(BAR_GAP + index * (width + BAR_GAP), 14 + plot - height, width, height,
                        name, quantity(value), future))
    words = "; ".join(f"{b.label}: {b.value}" for b in bars)
    return Chart(bars, CHART_WIDTH, CHART_HEIGHT, f"Kits available: {words}.")


def routes(sessions: sessionmaker[Session]) -> list[Route]:
    run = Runner(sessions)

    async def list_page(request: Request) -> Response:
        kits = await run.read(views.retail_kits)
        return page(request, "availability_list.html", kits=kits)

    async def kit_page(request: Request) -> Response:
        part_id = int(request.path_params["id"])
        raw_date = request.query_params.get("asOf") or None

        def load(session: Session) -> dict[str, Any]:
            as_of = availability.parse_date(raw_date)
            result = availability.get_kit_availability(session, part_id, as_of=as_of)
            part = views.part(session, part_id)
            sites = views.location_names(session, (s.site_id for s in result.sites))
            numbers = views.part_numbers(session, (c.part_id for c in result.components))
            return {"result": result, "part": part, "sites": sites, "numbers": numbers,
                    "as_of": as_of or availability.today()}

        try:
            data = await run.read(load)
        except KitwrightError as error:
            return page(request, "error.html", status=400, message=plain(error))
        result = data["result"]
        charts = {"network": chart(result.network)}
        charts.update({f"site-{s.site_id}": chart(s.figure) for s in result.sites})
        return page(request, "availability.html", charts=charts, today=dt.date.today(), **data)

    return [
        Route("/availability", list_page, methods=["GET"]),
        Route("/availability/{id:int}", kit_page, methods=["GET"]),
    ]
