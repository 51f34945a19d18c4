"""Technician mode: how a technician gets in, what they see and test, and on what.

- `pin`: the technician PIN (scrypt hash in the config, tries and a lock that doubles);
- `port`: `TechnicianPort`, all the console may see and do of a kiosk, and `KioskPort`, the
  kiosk's implementation (the composition root hands it out as `Kiosk.technician`);
- `console`: every action and text of the console, plain Python, tested without a window;
- `panel`: the Kivy view of the console and the unlock hook (imports Kivy; only the UI does).
"""
