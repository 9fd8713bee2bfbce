"""Pytest fixtures around the loopback Hub of tools/fakehub.py, and
checks of what a Hugging Face cache holds after a load.

- `hf_home`: an empty `HF_HOME`, with every Hub setting of the environment
  cleared; returns the hub cache directory inside it.
- `fake_hub`: a running `tools.fakehub.FakeHub` that huggingface_hub and
  keras_genae point at (see `FakeHub` for its fault injection).
- `no_retry_sleep`: huggingface_hub's retry back-off without the sleeps.
"""

import hashlib
import os
import time
import types
from pathlib import Path

import pytest
from huggingface_hub import constants as hf_constants

from keras_genae.hub.download import git_blob_sha1
from tools.fakehub import FakeHub


# ---------------------------------------------------------------- fixtures
def _clear_hub_env(monkeypatch):
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE",
                "HF_ENDPOINT", "KERAS_GENAE_MANIFEST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_TOKEN", "hf_fake_token_for_tests")


@pytest.fixture
def hf_home(tmp_path, monkeypatch):
    """An empty HF_HOME; returns the hub cache directory inside it."""
    _clear_hub_env(monkeypatch)
    home = tmp_path / "hf_home"
    monkeypatch.setenv("HF_HOME", str(home))
    return home / "hub"


@pytest.fixture
def fake_hub(hf_home, monkeypatch):
    """A running `FakeHub` that huggingface_hub points at.

    The endpoint is set both through `HF_ENDPOINT` (read by keras_genae at
    call time) and in `huggingface_hub.constants` (read at import time,
    used by code that passes no endpoint, such as Keras' hf:// loader)."""
    hub = FakeHub().start()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setattr(hf_constants, "ENDPOINT", hub.url)
    monkeypatch.setattr(hf_constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        hub.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(hf_home))
    hub.cache_dir = hf_home
    yield hub
    hub.stop()


@pytest.fixture
def no_retry_sleep(monkeypatch):
    """Skip huggingface_hub's retry back-off sleeps (up to 23 s on a 500)."""
    from huggingface_hub import file_download
    from huggingface_hub.utils import _http

    shim = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if not k.startswith("_")})
    shim.sleep = lambda seconds: None
    monkeypatch.setattr(_http, "time", shim)
    monkeypatch.setattr(file_download, "time", shim)


def cache_problems(cache_dir):
    """Files in an HF cache that a later load could wrongly use: partial
    downloads, blobs whose content does not match their ETag name, and
    snapshot entries that point at such blobs."""
    problems = []
    for root, _, files in os.walk(cache_dir):
        for name in files:
            path = os.path.join(root, name)
            if name.endswith(".incomplete"):
                problems.append(f"partial download {path}")
            elif os.path.basename(root) == "blobs":
                data = Path(path).read_bytes()
                if name not in (hashlib.sha256(data).hexdigest(), git_blob_sha1(data=data)):
                    problems.append(f"corrupt blob {path}")
    return problems


def blob_files(cache_dir):
    return [p for p in Path(cache_dir).rglob("blobs/*") if p.is_file()]
