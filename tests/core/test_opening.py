"""Dates given to patrons fall on opening days; a config that says otherwise is told plainly."""

from __future__ import annotations

from datetime import date

import pytest

from domain.opening import BadOpeningDays, OpenDays
from kiosk import config

THURSDAY = date(2026, 12, 24)


def test_a_closed_day_moves_to_the_next_opening_day() -> None:
    days = OpenDays.parse(["sun", "Monday"], ["2026-12-25", "2026-12-26"])
    assert days.on_or_after(THURSDAY) == THURSDAY
    assert days.on_or_after(date(2026, 12, 25)) == date(2026, 12, 29)  # Fri, Sat, Sun, Mon shut
    assert OpenDays().on_or_after(date(2026, 12, 27)) == date(2026, 12, 27)


@pytest.mark.parametrize(("weekdays", "dates", "said"), [
    (["zondag"], [], "'zondag' is not a weekday"),
    ([], ["25/12/2026"], "'25/12/2026' is not a day like 2026-12-25"),
    (["mon", "tue", "wed", "thu", "fri", "sat", "sun"], [], "closed on every weekday"),
])
def test_config_check_names_a_bad_closing_day(tmp_path, weekdays, dates, said) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(f"[library]\nclosed_weekdays = {weekdays!r}\nclosed_dates = {dates!r}\n"
                    '[backend]\nurl = "https://catalog.example/"\ntoken = "t"\n')
    with pytest.raises(BadOpeningDays):
        OpenDays.parse(weekdays, dates)
    problems = config.check(path, environ={})
    assert any(said in p.message and p.key.startswith("library.") for p in problems), problems
