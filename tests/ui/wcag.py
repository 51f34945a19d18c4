"""WCAG's relative luminance and contrast ratio (WCAG 2.x, 1.4.3 and 1.4.11), for the tests
that read colours from the real window."""

from __future__ import annotations

from collections.abc import Sequence


def luminance(rgba: Sequence[float]) -> float:
    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    r, g, b = rgba[:3]
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def ratio(a: Sequence[float], b: Sequence[float]) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)
