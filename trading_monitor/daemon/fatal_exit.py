"""A fatal error that must end the daemon rather than pause it (a mixin of `Daemon`).

Most fatal errors pause the trading jobs and keep the daemon up for the health check. One
whose exception carries an `exit_code` stops it: the broker account is not the books'
(account_guard.AccountMismatch, exit 2). Nothing the daemon could do would be right for
that account, a restart cannot fix it, and the systemd unit does not restart on exit 2
(RestartPreventExitStatus=2), so the unit fails once, its OnFailure alert fires, and the
operator either puts the keys back or adopts the account (`trading-monitor reconcile
--adopt-account ID --reason TEXT`) and starts it again.
"""

from __future__ import annotations

import logging
import threading

from trading_monitor.exceptions import FatalError

log = logging.getLogger(__name__)


class FatalExitMixin:
    exit_code: int | None = None  # set when the daemon stops on such an error
    exit_reason: str | None = None

    def stop(self) -> None: ...  # the Daemon's

    def _exit_for(self, exc: FatalError) -> None:
        """Stop the daemon and make its process exit with `exc.exit_code`. Called from a
        job's thread: the stop runs on its own thread (it waits for the running jobs)."""
        if self.exit_code is not None:
            return
        self.exit_code, self.exit_reason = int(getattr(exc, "exit_code", 1)), str(exc)
        log.critical("the daemon stops (exit %d): %s", self.exit_code, exc)
        threading.Thread(target=self.stop, name="fatal-exit", daemon=True).start()
