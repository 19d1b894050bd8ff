"""End-to-end tests start real workers, and with them warm spares: end those after each test."""

from __future__ import annotations

import pytest

from studio.runs import spare


@pytest.fixture(autouse=True)
def _no_spare_outlives_its_test(request):
    yield
    home = request.node.funcargs.get("studio_home")
    if home is not None:
        spare.stop_spares(home)
