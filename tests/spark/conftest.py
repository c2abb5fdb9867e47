"""The local-mode Spark session of the Spark tests (``test_cluster.py`` has its own: the README's
session on a standalone cluster)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def spark():
    """One local[2] session for the module (Spark allows one per process: every module asking with these
    settings gets the running one back)."""
    pytest.importorskip("pyspark")
    from clvmodels.spark import local_session

    session = local_session(2, driver_memory="1g", shuffle_partitions=4, app_name="clvmodels-tests")
    yield session
    session.catalog.clearCache()
