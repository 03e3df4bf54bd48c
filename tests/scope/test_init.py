from __future__ import annotations

import netatlas.scope as scope


def test_public_names_are_pinned() -> None:
    assert scope.__all__ == [
        "MAX_SIZE",
        "NO_ALLOW",
        "RESERVED",
        "RESERVED_V4",
        "RESERVED_V6",
        "OutOfScope",
        "Permitted",
        "Permutation",
        "PortSet",
        "Scope",
        "ScopeError",
        "TargetEntry",
        "TargetSpace",
        "Targets",
        "exclude_ports",
        "excluded_check",
        "iter_endpoints",
        "parse_ports",
        "parse_targets",
        "require_something_to_scan",
        "top_ports",
        "top_ports_ordered",
    ]
    for name in scope.__all__:
        assert hasattr(scope, name)
    assert issubclass(scope.OutOfScope, scope.ScopeError)
    assert issubclass(scope.ScopeError, ValueError)
