import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from servers import SmtpServer, start_fake_slack  # noqa: E402


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def slack():
    fake = start_fake_slack()
    yield fake
    fake.server.shutdown()
