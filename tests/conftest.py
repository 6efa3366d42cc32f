import os
from pathlib import Path

import pytest

# No test touches the network: the Hub (models and data) is offline for the whole session, before any test
# module imports huggingface_hub or datasets (both read it once). A test of a fetch serves it locally.
os.environ["HF_HUB_OFFLINE"] = "1"

# skip_policy: with CI set, a skip for something CI's set-up provides fails the session (see that module).
# pytester: tests/test_ci_skips.py runs small pytest sessions to check that policy.
pytest_plugins = ["skip_policy", "pytester"]

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True, scope="session")
def _private_output_cache(tmp_path_factory):
    """Tests use their own output cache, never the user's ~/.cache/mmx."""
    import os

    os.environ["MMX_CACHE_DIR"] = str(tmp_path_factory.mktemp("mmx-cache"))
    yield


@pytest.fixture
def shared_data() -> Path:
    if not SHARED.is_dir():
        from skip_policy import shared_absent  # after pytest has loaded it as a plugin (assert rewriting)

        pytest.skip(shared_absent(SHARED))
    return SHARED
