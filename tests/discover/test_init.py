import netatlas.discover as discover


def test_public_surface() -> None:
    assert sorted(discover.__all__) == [
        "DiscoverStats", "Discoverer", "MixedDiscoverer", "Payloads", "Probe",
        "RawSocketDenied", "SynDiscoverer", "TokenBucket", "UdpDiscoverer", "Watermark",
    ]
