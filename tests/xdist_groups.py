"""How the suite is split between pytest-xdist workers (``-n N --dist loadgroup``, as
scripts/test.sh runs it). Tests share machine-wide things — the lab's daemons and its
state dir, fixed loopback addresses and ports, session-wide servers — so a test is
only ever run beside tests that cannot disturb it:

* every test is grouped with its own module (the modules were written to run alone);
* every test that touches the lab (a lab fixture, the ``lab`` marker, the labsvc
  helpers, ``Lab()``) runs in the one ``lab`` group: one worker starts the lab once and
  stops it at its end, as a run without xdist does, and ``test_down_then_up_again`` never
  pulls the lab from under a test on another worker;
* folders whose modules share addresses, ports or session-wide servers are one group
  each (``GROUPED_DIRS``); modules that share helpers with a global resource (X display
  numbers) are one group (``GROUPED_HELPERS``).

Without xdist workers (no ``-n``, or ``-n 0``) nothing here applies.
:func:`check_lab_fixture` fails a test that reaches a lab fixture from outside the lab
group (a test the detection missed), rather than letting it race the lab on another
worker.
"""

from __future__ import annotations

import ast
import functools
import inspect
import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

LAB_GROUP = "lab"
# fixtures that start, stop or read the running lab
LAB_FIXTURES = frozenset({"lab", "lab_up", "running_lab", "lab_services", "udp_lab"})
# code that reaches the lab without naming one of those fixtures as an argument
LAB_CODE = re.compile(r"\b(lab_named|lab_service|running_services|udp_lab|lab_up|running_lab"
                      r"|lab_services)\b|getfixturevalue\(\s*[\"']lab[\"']\s*\)|\bLab\(")
# tests/<folder> -> group: modules sharing loopback ranges, fixed ports or session servers
GROUPED_DIRS = {
    "lab": "lab-helpers",  # (the lab's own tests are in LAB_GROUP) apt, 127.20.11.x
    "hostile": "hostile",  # one scan of the hostile range per session, 127.20.70-72.x
    "web": "web",  # the live UI, a hostile server on the fixed 127.20.230.1:8080
    "cluster": "cluster",  # Celery workers scanning from 127.21.0.x, listeners there
    "monitor": "monitor",  # monitors scanning 127.20.12.x
    "interop": "interop",  # scans of 127.20.13.x, a listener on a fixed port
    "cli": "cli",  # scans of 127.20.41.x
    "discover": "discover",  # listeners on 127.20.240.x, SYN scans of 127.20.80-81.x
}
# a module importing one of these helpers joins that helper's group
GROUPED_HELPERS = {
    "sharing_servers": "sharing",  # Xvfb on the first free display number (a /tmp lock)
}


def is_worker() -> bool:
    """In an xdist worker: only workers collect, when the tests are distributed."""
    return "PYTEST_XDIST_WORKER" in os.environ


@functools.cache
def _source(func: Callable[..., Any]) -> str:
    try:
        return inspect.getsource(func)
    except (OSError, TypeError):
        return ""


@functools.cache
def _module_info(path: Path) -> tuple[bool, str | None]:
    """(whether a helper function of the module — not a test, not a fixture — reaches
    the lab, so that every test of the module may; the group of a shared helper the
    module imports)."""
    try:
        text = path.read_text("utf-8")
        tree = ast.parse(text)
    except (OSError, SyntaxError):
        return False, None
    helper_lab = False
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            fixture = any("fixture" in ast.unparse(d) for d in node.decorator_list)
            if not (node.name.startswith("test") or fixture) and LAB_CODE.search(
                    ast.get_source_segment(text, node) or ""):
                helper_lab = True
    helper_group = next((g for h, g in GROUPED_HELPERS.items()
                         if re.search(rf"\b{h}\b", text)), None)
    return helper_lab, helper_group


def uses_lab(item: pytest.Item) -> bool:
    if item.get_closest_marker("lab") is not None:
        return True
    names = set(getattr(item, "fixturenames", ()))
    if names & LAB_FIXTURES:
        return True
    if LAB_CODE.search(_source(getattr(item, "obj", None))):
        return True
    info = getattr(item, "_fixtureinfo", None)
    for defs in (info.name2fixturedefs.values() if info is not None else ()):
        if any(LAB_CODE.search(_source(d.func)) for d in defs):
            return True
    return _module_info(item.path)[0]


def group_of(item: pytest.Item, root: Path) -> str:
    if uses_lab(item):
        return LAB_GROUP
    rel = item.path.relative_to(root) if item.path.is_relative_to(root) else item.path
    parts = rel.parts
    if len(parts) > 2 and parts[0] == "tests" and parts[1] in GROUPED_DIRS:
        return GROUPED_DIRS[parts[1]]
    helper = _module_info(item.path)[1]
    if helper is not None:
        return helper
    return rel.as_posix()


GROUPS_FILE = "NETATLAS_XDIST_GROUPS"  # env: where the workers leave {node id: group}
_GROUP = pytest.StashKey[str]()


def assign_groups(items: list[pytest.Item]) -> None:
    """On a worker: the group of every test, kept on the item (for the lab guard) and
    written once for the controller's scheduler (every worker collects the same)."""
    if not is_worker():
        return
    groups = {}
    for item in items:
        group = group_of(item, Path(item.config.rootpath))
        item.stash[_GROUP] = group
        groups[item.nodeid] = group
    target = os.environ.get(GROUPS_FILE)
    if target:
        tmp = Path(f"{target}.{os.environ['PYTEST_XDIST_WORKER']}")
        tmp.write_text(json.dumps(groups))
        tmp.replace(target)


def order_groups(items: list[pytest.Item]) -> None:
    """Put the shared groups first, the largest pieces of work, so that none is left for
    the end of the run; within a group, and within a module, the order stays the one
    pytest collected (and arranged by fixtures)."""
    if not is_worker():
        return
    first = [LAB_GROUP, *dict.fromkeys(GROUPED_DIRS.values())]
    rank = {g: i for i, g in enumerate(first)}
    shared = {*first, *GROUPED_HELPERS.values()}
    order = {id(item): i for i, item in enumerate(items)}

    def key(item: pytest.Item) -> tuple[int, int]:
        group = item.stash.get(_GROUP, "")
        if group in shared:
            return rank.get(group, len(rank)), order[id(item)]
        return len(rank) + 1, order[id(item)]

    items.sort(key=key)


class GroupScheduling(LoadScopeScheduling):
    """xdist's loadgroup, with the groups of tests/xdist_groups.py: each group is one
    unit of work, run by one worker in collection order. (xdist 3.8 marks a group by
    renaming node ids, which pytest 9 no longer lets it do; a unit here is looked up by
    the node id the workers wrote down.)"""

    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        super().__init__(config, log)
        self._groups: dict[str, str] | None = None

    def _split_scope(self, nodeid: str) -> str:
        if self._groups is None:
            self._groups = json.loads(Path(os.environ[GROUPS_FILE]).read_text())
        group = self._groups.get(nodeid)
        if group is None:  # not seen by a worker: its module, as --dist loadfile
            return nodeid.split("::", 1)[0]
        return group


def start_groups(config: pytest.Config) -> Path | None:
    """On the controller of a ``--dist loadgroup`` run: a fresh file for the groups,
    named to the workers by the environment they inherit."""
    if is_worker() or getattr(config.option, "dist", "no") != "loadgroup":
        return None
    # units in the order order_groups gives (the lab group, the longest, first), not
    # xdist's default of the most tests first
    config.option.loadscopereorder = False
    fd, name = tempfile.mkstemp(prefix="netatlas-xdist-groups-", suffix=".json")
    os.close(fd)
    os.environ[GROUPS_FILE] = name
    return Path(name)


def check_lab_fixture(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
                      ) -> None:
    """On an xdist worker, a lab fixture set up for a test outside the lab group fails
    that test: it would share the lab with the lab group's worker, which stops and
    restarts it."""
    if fixturedef.argname not in LAB_FIXTURES or not is_worker():
        return
    item = getattr(request, "_pyfuncitem", None)
    if item is None or item.stash.get(_GROUP, LAB_GROUP) == LAB_GROUP:
        return
    pytest.fail(f"{item.nodeid} uses the lab ({fixturedef.argname}) outside the xdist group"
                f" {LAB_GROUP!r}; tests/xdist_groups.py did not see it: add it there",
                pytrace=False)
