"""The package's public names are pinned: changing them is a deliberate act."""

import netatlas.identify as identify


def test_public_api() -> None:
    assert sorted(identify.__all__) == [
        "Candidate", "Identifier", "NmapProbes", "NmapResult", "Probe", "Rule", "RuleError",
        "RuleFile", "ServiceMatch", "default_identifier", "explain", "identify",
        "list_sources", "load_rule_file", "load_rules",
    ]
    for name in identify.__all__:
        assert getattr(identify, name) is not None
