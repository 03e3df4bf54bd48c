import netatlas.discover as discover


def test_public_surface() -> None:
    assert sorted(discover.__all__) == [
        "DiscoverStats", "Discoverer", "MixedDiscoverer", "Payloads", "Probe",
        "RawSocketDenied", "SynDiscoverer", "TokenBucket", "UdpDiscoverer", "Watermark",
    ]


def test_a_connect_scan_never_loads_numpy() -> None:
    """numpy (16 MiB of RSS) comes with the first SYN run, not with the import of
    discover, scope or the pipeline: a fresh interpreter importing them has not loaded
    it; building a SYN engine's views does."""
    import subprocess
    import sys

    code = (
        "import sys, netatlas.discover, netatlas.scope, netatlas.pipeline\n"
        "print('numpy' in sys.modules)\n"
        "from netatlas.discover import _syn\n"
        "_syn.TargetHash(b'k' * 32, 4)\n"
        "print('numpy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    assert out == ["False", "True"]
