"""Waiting for a service a test started in another process to give its first answer."""

from __future__ import annotations

import subprocess
import time

import requests


def first_answer(url: str, process: subprocess.Popen[bytes], timeout_s: float = 30.0
                 ) -> requests.Response:
    """GET `url` until it answers; give up when `process` has exited or time is out (the
    exception then says which)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return requests.get(url, timeout=5)
        except requests.RequestException:
            if process.poll() is not None:
                raise RuntimeError(f"the service exited ({process.returncode}) before "
                                   f"answering {url}") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
