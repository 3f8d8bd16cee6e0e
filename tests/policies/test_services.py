"""The policies area's public face: what other areas import from ``policies.services``."""

from __future__ import annotations

from consentmgr.policies import changes, publishing, services, versions


def test_every_publishing_and_reading_name_is_importable_from_services():
    for module in (publishing, versions):
        for name in module.__all__:
            assert getattr(services, name) is getattr(module, name), name


def test_the_comparison_of_published_versions_is_importable_from_services():
    for name in ("compare_versions", "VersionComparison", "PurposeComparison", "CategoryChange"):
        assert getattr(services, name) is getattr(changes, name), name
    assert set(services.__all__) <= {name for name in dir(services) if not name.startswith("_")}
