"""The simulator's exceptions: SimError (anything the simulator could not do) and
the two failures callers branch on, PodFailed and PsqlError. No logic here."""

from __future__ import annotations


class SimError(RuntimeError):
    """Anything the simulator could not do."""


class PodFailed(SimError):
    """A pod's entrypoint exited (or did not become ready) when it should have."""

    def __init__(self, message: str, pod: int, exit_code: int | None, log_tail: str):
        super().__init__(f"{message}\n--- last lines of the pod's log ---\n{log_tail}")
        self.pod = pod
        self.exit_code = exit_code
        self.log_tail = log_tail


class PsqlError(SimError):
    """psql exited non-zero."""

    def __init__(self, pod: int, sql: str, returncode: int, stderr: str):
        super().__init__(f"psql on pod {pod} failed (exit {returncode}): {stderr.strip()}\n"
                         f"SQL: {sql}")
        self.pod = pod
        self.returncode = returncode
        self.stderr = stderr
