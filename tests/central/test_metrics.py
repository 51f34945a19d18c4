"""GET /metrics: requests by route template (never a path with a patron or item in it), and
the fleet as the dashboard sees it, for Prometheus and the alert rules in ops/."""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

from central.server import RunningServer
from domain.demo_library import AVAILABLE_ITEMS, DEMO_KIOSK_ID, SEED_PATRONS

AUTH = {"Authorization": "Bearer demo-token-not-a-secret"}


def samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = requests.get(url + "/metrics", timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_requests_are_counted_by_route_and_the_fleet_is_shown(server: RunningServer) -> None:
    item = AVAILABLE_ITEMS[2]
    for _ in range(3):
        assert requests.get(f"{server.url}/v1/items/{item}", headers=AUTH, timeout=10).ok
    requests.post(server.url + "/v1/patrons/account", headers=AUTH, timeout=10,
                  json={"patron_id": SEED_PATRONS[0].patron_id})
    beat = {"kiosk_id": DEMO_KIOSK_ID, "online": True, "faults": ["printer"],
            "queue": {"pending": 7, "oldest_pending_age_s": 120.0}}
    assert requests.post(server.url + "/v1/heartbeat", json=beat, headers=AUTH, timeout=10).ok
    found = samples(server.url)
    route = (("method", "GET"), ("route", "/v1/items/{item_id}"), ("status", "200"))
    assert found[("central_http_requests_total", route)] == 3
    kiosk = (("branch", "Hoofdbibliotheek"), ("kiosk", DEMO_KIOSK_ID))
    assert found[("central_kiosks", (("state", "online"),))] == 1
    assert found[("central_kiosk_queue_depth", kiosk)] == 7
    assert found[("central_kiosk_oldest_pending_seconds", kiosk)] == 120
    assert found[("central_kiosk_fault", (*kiosk[:1], ("fault", "printer"), kiosk[1]))] == 1
    assert found[("central_queue_total", ())] == 7
    text = requests.get(server.url + "/metrics", timeout=10).text
    assert item not in text and SEED_PATRONS[0].patron_id not in text
