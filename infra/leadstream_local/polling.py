"""What every background poller of the local stack shares: a thread that runs cycles until stopped,
waits between cycles that found nothing, reports a failing cycle once (not five times a second), and
the two counters `wait_idle` reads (leadstream_local.streams.wait_idle)."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("leadstream_local")

POLL_INTERVAL = 0.15


class BackgroundPoller:
    """Subclasses implement `poll_once()`: one round of work, True when it found nothing to do, so the
    next round waits a poll interval (or override `cycle()` to decide otherwise). They take `_lock`
    around a round, set `idle_cycle_started` when a round found nothing to do, and add to `activity`
    for everything they delivered."""

    def __init__(self, name: str, poll_interval: float = POLL_INTERVAL) -> None:
        self.name = name
        self._poll_interval = poll_interval
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error = ""
        # For wait_idle: when the last idle cycle began, and a counter of everything that happened.
        self.idle_cycle_started = float("-inf")
        self.activity = 0

    def poll_once(self) -> bool:
        raise NotImplementedError

    def cycle(self) -> bool:
        """One round; True: wait a poll interval before the next."""
        return self.poll_once()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("%s is still inside its handler; leaving it behind", self.name)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                wait = self.cycle()
                self._last_error = ""
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
                if message != self._last_error:  # a broken source fails every cycle; say so once
                    log.error("%s: %s", self.name, message, exc_info=exc)
                    self._last_error = message
                wait = True
            if wait:
                self._stopping.wait(self._poll_interval)
