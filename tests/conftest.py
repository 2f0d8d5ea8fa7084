import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    path = Path(os.environ.get("WIREWATCH_CORPUS_DIR", REPO.parent / "shared" / "corpus"))
    if not (path / "reuters21578").is_dir():
        pytest.fail(f"the shared corpus is not at {path}; set WIREWATCH_CORPUS_DIR")
    return path
