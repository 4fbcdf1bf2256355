"""akusim: a Kubernetes StatefulSet of PostgreSQL + aku pods, simulated with Linux
namespaces on one machine. See sim/README.md."""

from ._sys import SimError
from .statefulset import (DEFAULT_SERVER_OPTIONS, PodFailed, PsqlError, StatefulSet, conf_value, find_aku_bin,
                          sweep_stale, wait_until)

__all__ = ["StatefulSet", "SimError", "PodFailed", "PsqlError", "sweep_stale", "wait_until", "find_aku_bin",
           "conf_value", "DEFAULT_SERVER_OPTIONS"]
