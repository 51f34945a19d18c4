"""A central profile on the kiosk: checked with the code of `kiosk config check` before
anything changes, kept for a quiet moment, tried on the next start, confirmed once the kiosk
stays up, rolled back when it does not, and never over a key the kiosk's own file pins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domain import profiles
from kiosk import config
from kiosk.profile import GOOD, PENDING, REPORT, TRYING, ProfileKeeper

ROOT = Path(__file__).resolve().parents[2]


def kiosk_file(tmp_path: Path, extra: str = "") -> Path:
    demo = (ROOT / "config/demo.toml").read_text()
    demo = demo.replace('data_dir = "demo-output/var"', f'data_dir = "{tmp_path / "var"}"')
    path = tmp_path / "kiosk.toml"
    path.write_text(demo + extra)
    (tmp_path / "var").mkdir(exist_ok=True)
    return path


def keeper(tmp_path: Path, extra: str = "") -> ProfileKeeper:
    return ProfileKeeper(kiosk_file(tmp_path, extra), tmp_path / "var", environ={})


def offered(k: ProfileKeeper, settings: dict) -> str:
    version = profiles.version_of(settings)
    k.offer(version, settings)
    return version


def report(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "var" / REPORT).read_text())


TWO_OFFLINE = {"offline": {"max_items_per_patron": 2}, "kiosk": {"name": "By the door"}}


def test_a_good_profile_waits_for_a_restart_then_is_tried_then_confirmed(tmp_path: Path) -> None:
    running = keeper(tmp_path)
    assert running.startup().offline.max_items_per_patron == 5  # the file alone
    version = offered(running, TWO_OFFLINE)
    assert running.restart_wanted
    assert running.state()["pending"] == version
    assert not (tmp_path / "var" / GOOD).exists()

    after_restart = keeper(tmp_path)
    settings = after_restart.startup()
    assert settings.offline.max_items_per_patron == 2
    assert settings.kiosk.name == "By the door"
    assert not after_restart.restart_wanted  # it runs with what waited
    assert (tmp_path / "var" / TRYING).read_text().strip() == version
    after_restart.confirm()
    assert json.loads((tmp_path / "var" / GOOD).read_text())["version"] == version
    assert not (tmp_path / "var" / PENDING).exists() and not (tmp_path / "var" / TRYING).exists()
    assert report(tmp_path)["outcome"] == "applied"

    # and the next start runs with the good one, offered again or not
    again = keeper(tmp_path)
    assert again.startup().offline.max_items_per_patron == 2
    offered(again, TWO_OFFLINE)
    assert not again.restart_wanted


def test_a_start_that_never_confirmed_its_profile_rolls_back_to_the_good_one(
        tmp_path: Path) -> None:
    first = keeper(tmp_path)
    first.startup()
    offered(first, {"offline": {"max_items_per_patron": 3}})
    trying = keeper(tmp_path)
    trying.startup()
    trying.confirm()  # 3 is now the good one
    offered(trying, {"offline": {"max_items_per_patron": 4}})
    keeper(tmp_path).startup()  # tries 4 ... and dies before confirming (crash, watchdog)

    after_crash = keeper(tmp_path)
    settings = after_crash.startup()
    assert settings.offline.max_items_per_patron == 3
    assert report(tmp_path)["outcome"] == "rolled back"
    assert report(tmp_path)["version"] == profiles.version_of(
        {"offline": {"max_items_per_patron": 4}})
    assert not (tmp_path / "var" / PENDING).exists()


@pytest.mark.parametrize(("settings", "why"), [
    ({"kiosk": {"language": "xx"}}, "kiosk.language"),
    ({"offline": {"max_items_per_patron": "many"}}, "offline.max_items_per_patron"),
    ({"devices": {"printer": {"type": "laser-of-doom"}}}, "devices.printer"),
    ({"backend": {"url": "https://elsewhere.example/"}}, "backend: a profile cannot set"),
    ({"session": {"timeout_s": -1}}, "session.timeout_s"),
])
def test_a_profile_that_would_break_the_config_is_refused_and_reported(
        tmp_path: Path, settings: dict, why: str) -> None:
    k = keeper(tmp_path)
    before = k.startup()
    offered(k, settings)
    assert not k.restart_wanted
    assert report(tmp_path)["outcome"] == "refused"
    assert why in report(tmp_path)["why"]
    assert keeper(tmp_path).startup() == before


def test_a_version_that_does_not_match_its_settings_is_refused(tmp_path: Path) -> None:
    k = keeper(tmp_path)
    k.startup()
    k.offer("0123456789ab", {"offline": {"max_items_per_patron": 1}})
    assert not k.restart_wanted and "does not match" in report(tmp_path)["why"]


def test_keys_the_kiosks_own_file_pins_stay_as_the_file_says(tmp_path: Path) -> None:
    pins = '\n[profile]\npinned = ["offline.max_items_per_patron", "devices.printer"]\n'
    k = keeper(tmp_path, pins)
    local = k.startup()
    offered(k, {"offline": {"max_items_per_patron": 1, "allow_checkout": False},
                "devices": {"printer": {"type": "none"}}})
    settings = keeper(tmp_path, pins).startup()
    assert settings.offline.max_items_per_patron == local.offline.max_items_per_patron
    assert settings.devices["printer"] == local.devices["printer"]
    assert settings.offline.allow_checkout is False  # not pinned: the profile's


def test_no_profile_from_the_central_side_is_no_change_until_one_was_applied(
        tmp_path: Path) -> None:
    k = keeper(tmp_path)
    k.startup()
    offered(k, {})
    assert not k.restart_wanted
    offered(k, TWO_OFFLINE)
    k2 = keeper(tmp_path)
    k2.startup()
    k2.confirm()
    offered(k2, {})  # staff removed every layer: back to the file alone, through a restart
    assert k2.restart_wanted
    back = keeper(tmp_path)
    assert back.startup().offline.max_items_per_patron == 5


def test_the_kiosks_own_problems_still_stop_it(tmp_path: Path) -> None:
    path = kiosk_file(tmp_path, '\n[offline]\nloan_days = "soon"\n')
    with pytest.raises(config.ConfigError):
        ProfileKeeper(path, tmp_path / "var", environ={}).startup()


def test_a_rolled_back_profile_is_not_tried_again_until_staff_change_it(tmp_path: Path) -> None:
    first = keeper(tmp_path)
    first.startup()
    bad = offered(first, {"offline": {"max_items_per_patron": 4}})
    keeper(tmp_path).startup()  # tries it, never confirms
    after = keeper(tmp_path)
    after.startup()  # rolls back
    after.offer(bad, {"offline": {"max_items_per_patron": 4}})  # the heartbeat sends it again
    assert not after.restart_wanted
    offered(after, {"offline": {"max_items_per_patron": 3}})  # staff changed it: a new one
    assert after.restart_wanted
