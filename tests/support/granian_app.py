"""The app as one granian worker serves it in the tests (tests/support/server.py).

The same factory as production (`idp.serving.granian_app`) but with the test server's settings,
which are built in Python (tests/conftest.py) and reach the worker pickled in a file named by
GRANIAN_TEST_SETTINGS, rather than as `IDP_*` variables.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from flask import Flask

from idp import create_app
from idp.services.container import build_services
from idp.serving import in_granian_worker

SETTINGS_VARIABLE = "GRANIAN_TEST_SETTINGS"


def app() -> Flask:
    settings = pickle.loads(Path(os.environ[SETTINGS_VARIABLE]).read_bytes())  # noqa: S301 (ours)
    return in_granian_worker(create_app(services=build_services(settings)))
