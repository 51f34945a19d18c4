"""Self-service library kiosk: borrow, return and renew, online or offline."""

__version__ = "0.1.0"
