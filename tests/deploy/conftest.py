"""Deployment tests: skip `cuda`-marked tests with the GPU probe's own reason where CUDA cannot run."""
import pytest


def pytest_collection_modifyitems(config, items):
    marked = [item for item in items if item.get_closest_marker("cuda")]
    if not marked:
        return
    from service.gpu import status

    if not (s := status()).usable:
        for item in marked:
            item.add_marker(pytest.mark.skip(reason=f"needs CUDA: {s.detail}"))
