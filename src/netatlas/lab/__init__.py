"""A local range of real services (Debian packages, and PyPI servers from the venv) on
127.20.0.x for the demo and the integration tests: ``Lab().up()``, ``.status()``,
``.down()``, ``.ground_truth()``."""

from netatlas.lab.lab import DEFAULT_STATE_DIR, Lab, default_state_dir
from netatlas.lab.services import CATALOGUE, FORBIDDEN_PORT, LAB_NET, LabError, LabService

__all__ = [
    "CATALOGUE",
    "DEFAULT_STATE_DIR",
    "FORBIDDEN_PORT",
    "LAB_NET",
    "Lab",
    "LabError",
    "LabService",
    "default_state_dir",
]
