"""Known risk days: public holidays, the kommun's risk dates and its school holidays.

One rule for every message that lists them (the lägesbild, the Thursday digest, the
Friday briefing, /handelse):

- a risk date ("MM-DD", every year) and a public holiday on the same date are one
  risk day ("dag"); its names are merged, each name once per date, compared without
  regard to case (the first spelling is kept), public holidays first;
- a school holiday (lov) is a period of its own and never merged with a dag;
- a lov already under way when the window opens is included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from est.checklist import swedish_public_holidays

DAG, LOV = "dag", "lov"


@dataclass(frozen=True)
class RiskDay:
    """A known risk day or period: a risk date, a public holiday or a school holiday."""

    first: date
    last: date
    names: tuple[str, ...]
    kind: str  # "dag" (risk date or helgdag) | "lov" (school holiday)

    @property
    def is_period(self) -> bool:
        return self.last != self.first


def known_risk_days(
    start: date,
    end: date,
    *,
    risk_dates: Iterable[Any] = (),
    school_holidays: Iterable[Any] = (),
    public_holidays: Callable[[int], dict[date, str]] = swedish_public_holidays,
) -> list[RiskDay]:
    """Risk days and school holidays touching ``[start, end]``, in date order.

    ``risk_dates`` have ``.name`` and ``.day`` ("MM-DD": nyår, Valborg, Halloween …),
    ``school_holidays`` ``.name``, ``.start`` and ``.end`` (the kommun's lov), as in
    the config; public holidays (and the eves treated as such) come from the holidays
    library. Names on one date are merged as the module docstring says.
    """
    days: dict[date, list[str]] = {}

    def add(day: date, name: str) -> None:
        names = days.setdefault(day, [])
        if name.casefold() not in {n.casefold() for n in names}:
            names.append(name)

    years = range(start.year, end.year + 1)
    for year in years:
        for day, name in public_holidays(year).items():
            if start <= day <= end:
                add(day, name)
    for risk in risk_dates:
        month, day_of_month = (int(part) for part in risk.day.split("-"))
        for year in years:
            try:
                day = date(year, month, day_of_month)
            except ValueError:  # 02-29 outside leap years
                continue
            if start <= day <= end:
                add(day, risk.name)
    result = [RiskDay(day, day, tuple(names), DAG) for day, names in days.items()]
    result += [RiskDay(h.start, h.end, (h.name,), LOV) for h in school_holidays
               if h.start <= end and h.end >= start]
    return sorted(result, key=lambda r: (r.first, r.kind != LOV, r.last))


__all__ = ["DAG", "LOV", "RiskDay", "known_risk_days"]
