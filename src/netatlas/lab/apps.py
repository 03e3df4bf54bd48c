"""Lab daemons: Web applications and AI / ML servers behind HTTP (Jupyter without token, exposed
repositories, model and vector APIs)."""

from __future__ import annotations

from netatlas.lab.daemon import Daemon

DAEMONS: tuple[Daemon, ...] = ()
