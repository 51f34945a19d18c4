"""What to say when the session's view changes: the whole screen when a new one opens, and
only what changed while the patron stays on it (an item settled with its due date or its
reason, a new message, the timeout warning), so speech follows the patron instead of
repeating the screen at every tap."""

from __future__ import annotations

from kiosk.session_io import ItemLine, SessionView
from kiosk.ui.wording import (
    Wording,
    feedback_texts,
    item_row,
    message_rows,
    rows_said,
    screen_sentences,
    timeout_texts,
)


def what_to_say(before: SessionView | None, view: SessionView, w: Wording, *,
                auto_print: bool = False,
                places: tuple[str, str] = ("right", "below")) -> list[str]:
    if before is None or before.screen != view.screen or before.language != view.language:
        return screen_sentences(view, w, auto_print=auto_print, places=places)
    said: list[str] = []
    if view.message is not None and view.message != before.message:
        said += rows_said(message_rows(view, w))
    old = {line.item_id: line for line in before.items}
    said += rows_said([item_row(view.screen, line, w) for line in view.items
                       if not line.working and _changed(old.get(line.item_id), line)])
    if view.renewals != before.renewals:
        said += screen_sentences(view, w)[1:]  # the account again, after its heading
    if view.feedback != before.feedback:
        said += feedback_texts(view, w)
    if view.warning_seconds_left is not None and before.warning_seconds_left is None:
        said += [t for t in timeout_texts(view.warning_seconds_left, w,
                                          more_time=view.more_time) if t]
    return said


def _changed(old: ItemLine | None, line: ItemLine) -> bool:
    if old is None or old.working:
        return True
    return (old.ok, old.reason, old.pending, old.put_back, old.security_failed) != (
        line.ok, line.reason, line.pending, line.put_back, line.security_failed)
