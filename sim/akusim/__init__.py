"""akusim: a Kubernetes StatefulSet of PostgreSQL + aku pods, simulated with Linux
namespaces on one machine. See sim/README.md."""

from ._sys import wait_until
from .errors import PodFailed, PsqlError, SimError
from .options import DEFAULT_SERVER_OPTIONS, SimOptions, conf_value, find_aku_bin
from .pod import PodState
from .registry import sweep_stale
from .statefulset import StatefulSet

__all__ = ["DEFAULT_SERVER_OPTIONS", "PodFailed", "PodState", "PsqlError", "SimError", "SimOptions",
           "StatefulSet", "conf_value", "find_aku_bin", "sweep_stale", "wait_until"]
