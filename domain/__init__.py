"""What the kiosk, its drivers and the central service share, and nothing else.

A leaf: it imports nothing of ours, so `kiosk`, `drivers` and `central` may all depend on it
without depending on each other. `model` holds the domain types (patrons, items, loans,
transactions, replay results), `events` what drivers publish, `privacy` the one policy for
identifiers in logs and on technician screens, and `demo_library` the demo library that the
reference service seeds and the demo kiosk's keys and tours use.
"""
