"""Central profiles: the settings a library sets for all its kiosks, a branch or one kiosk,
on the central side, which each kiosk lays over its own config file.

Shared by the service (which refuses a profile that sets what it may not) and the kiosk (which
applies it). What a profile may set is a list, not everything minus some: the backend and its
token, the kiosk's id and folders, the journal, the status endpoint, logging, the technician
PIN and the profile pins stay in the kiosk's own file, because a wrong value there would cut
the kiosk off from the very service that could correct it, or hand out a secret.

Layers merge table by table, later layers winning key by key; a device's table is replaced
whole (a printer of another type shares no options with the old one).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

# section -> the keys a profile may set there; None: every key of that section
SETTABLE: dict[str, frozenset[str] | None] = {
    "kiosk": frozenset({"name", "language", "languages"}),
    "library": None,  # opening hours, closed days, ISILs, card prefixes
    "session": None,
    "offline": None,  # the offline policy
    "devices": None,
    "ui": None,  # screen texts and looks, layout, defaults for patrons' choices
    "speech": None,
    "insights": None,  # a feature switch among others
}
SCOPES = ("library", "branch", "kiosk")  # from the widest to the narrowest
MAX_BYTES = 32_768


def problems(profile: Any) -> list[str]:
    """What is wrong with a profile's shape, each as "key: why"; [] when it may be sent."""
    if not isinstance(profile, Mapping):
        return ["(profile): expected a table of sections"]
    found = []
    for section, table in profile.items():
        if section not in SETTABLE:
            found.append(f"{section}: a profile cannot set this section (allowed: "
                         f"{', '.join(SETTABLE)})")
            continue
        if not isinstance(table, Mapping):
            found.append(f"{section}: expected a table")
            continue
        keys = SETTABLE[section]
        found += [f"{section}.{key}: a profile cannot set this key (it stays in the kiosk's "
                  "own file)" for key in table if keys is not None and key not in keys]
        if section == "devices":
            found += [f"devices.{name}: expected a table" for name, device in table.items()
                      if not isinstance(device, Mapping)]
    if not found and len(canonical(profile)) > MAX_BYTES:
        found.append(f"(profile): larger than {MAX_BYTES} bytes")
    return found


def merge(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Later layers win, key by key inside a section; a device table is replaced whole."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for section, table in layer.items():
            if not isinstance(table, Mapping):
                merged[section] = table
                continue
            into = merged.setdefault(section, {})
            if not isinstance(into, dict):
                into = merged[section] = {}
            for key, value in table.items():
                into[key] = dict(value) if isinstance(value, Mapping) else value
    return merged


def without(profile: Mapping[str, Any], pinned: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The profile minus the keys a kiosk's own file pins ("offline.allow_checkout", or a
    whole section or device: "devices.printer", "library")."""
    kept: dict[str, Any] = {}
    for section, table in profile.items():
        if section in pinned:
            continue
        if not isinstance(table, Mapping):
            kept[section] = table
            continue
        kept[section] = {k: v for k, v in table.items() if f"{section}.{k}" not in pinned}
    return kept


def canonical(profile: Mapping[str, Any]) -> str:
    return json.dumps(profile, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def version_of(profile: Mapping[str, Any]) -> str:
    """A profile's identity: the same settings give the same version on every kiosk."""
    return hashlib.sha256(canonical(profile).encode()).hexdigest()[:12]
