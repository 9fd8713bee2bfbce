"""Hostile inputs (issue 12): a misbehaving Hub, and what must keep holding.

Every Hub test runs against the loopback `FakeHub` of tests/hub_fixtures.py.
The image-folder and training-run cases are in test_security_files.py.
"""

import os
import time
import warnings

import numpy as np
import pytest

import keras_genae
from keras_genae.hub import api as hub
from keras_genae.hub import transfer
from keras_genae.hub import DownloadError
from tests.hub_fixtures import blob_files
from tests.hub_fixtures import cache_problems
from tests.hub_fixtures import fake_hub  # noqa: F401 (fixture)
from tests.hub_fixtures import hf_home  # noqa: F401 (fixture)
from tests.test_hub import REPO
from tests.test_hub import WEIGHTS
from tests.test_hub import images  # noqa: F401 (fixture)
from tests.test_hub import manifest_entry
from tests.test_hub import model  # noqa: F401 (fixture)
from tests.test_hub import outputs
from tests.test_hub import saved  # noqa: F401 (fixture)
from tests.test_hub import served  # noqa: F401 (fixture)
from tests.test_hub import tiny_autoencoder
from tests.test_hub import use_manifest
from tests.test_hub import weights_equal

STORAGE = "models--genae-test--tiny_ae"


def files_outside(root, inside):
    """Files under `root` that are not under `inside`."""
    return sorted(str(p) for p in root.rglob("*") if p.is_file() and inside not in p.parents)


@pytest.fixture
def pinned(served, saved, monkeypatch, tmp_path):  # noqa: F811
    """A manifest entry `tiny_ae` pinned to the served commit."""
    use_manifest(monkeypatch, tmp_path, {"tiny_ae": manifest_entry(saved, served.sha)})
    return "tiny_ae"


# ------------------------------------------------- 1. server values as paths
@pytest.mark.parametrize("handle", [f"hf://{REPO}", "manifest"])
def test_etag_path_traversal_writes_and_deletes_nothing_outside_the_cache(served, pinned, tmp_path, handle):  # noqa: F811
    victim = tmp_path / "site-packages" / "evil.pth"
    victim.parent.mkdir()
    victim.write_text("keep me")
    blobs = served.cache_dir / STORAGE / "blobs"
    served.faults[WEIGHTS] = ("etag", os.path.relpath(victim, blobs))
    with pytest.raises(DownloadError, match=r"ETag that is not a sha256 or git sha1 digest.*evil\.pth"):
        keras_genae.load(pinned if handle == "manifest" else handle)
    assert victim.read_text() == "keep me"
    assert served.count("GET", WEIGHTS) == 0
    assert files_outside(tmp_path, served.cache_dir) == sorted([str(victim), str(tmp_path / "manifest.json")])


def test_non_hex_commit_is_refused_before_any_path_is_built(served, tmp_path):  # noqa: F811
    served.faults["config.json"] = ("commit", "../../../../escaped")
    with pytest.raises(DownloadError, match=r"commit that is not 40 hex digits.*escaped"):
        keras_genae.load(f"hf://{REPO}")
    assert not list(tmp_path.rglob("escaped"))
    assert served.count("GET", "config.json") == 0


def test_eviction_never_touches_a_file_outside_the_cache(hf_home, tmp_path):  # noqa: F811
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    snapshot = hf_home / STORAGE / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / WEIGHTS).symlink_to(victim)
    transfer.evict(str(snapshot / WEIGHTS), str(hf_home), REPO)
    assert victim.read_text() == "keep me"
    assert transfer.cached_file(str(hf_home), REPO, WEIGHTS, "a" * 40) is None


# ------------------------------------------------ 2. a non-hash ETag refuses
def test_non_hash_etag_on_tampered_bytes_is_refused_not_warned(served):  # noqa: F811
    served.faults[WEIGHTS] = (("etag", "not-a-hash"), "tamper")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DownloadError, match=r"not a sha256 or git sha1 digest.*not-a-hash"):
            keras_genae.load(f"hf://{REPO}")
    assert served.count("GET", WEIGHTS) == 0 and cache_problems(served.cache_dir) == []


# ------------------------------------------------------- 3. @REV is checked
@pytest.mark.parametrize("revision", ["../../x", "..", "main/../../x", "-x", "a//b", ".hidden", "v1.lock"])
def test_revision_outside_hub_syntax_is_refused_before_any_request(served, tmp_path, revision):  # noqa: F811
    with pytest.raises(ValueError, match=r"`revision` must be a branch or tag name.*Received: revision="):
        keras_genae.load(f"hf://{REPO}@{revision}")
    assert served.requests == []
    assert not list(served.cache_dir.rglob("*"))


@pytest.mark.parametrize("revision", ["main", "v1.0", "refs/pr/1", "release_2+x", "a" * 40])
def test_hub_revisions_are_accepted(revision):
    assert hub.parse_hf_handle(f"hf://{REPO}@{revision}") == (REPO, revision)


# ---------------------------------------------------- 4. size and time limits
def test_body_past_the_pinned_size_is_not_read(served, pinned):  # noqa: F811
    served.faults[WEIGHTS] = ("pad", 256 << 20)
    with pytest.raises(DownloadError, match=r"more than the expected \d+ bytes for `model.weights.h5`"):
        keras_genae.load(pinned)
    assert served.count("GET", WEIGHTS) == 1  # Not fetched a second time.
    assert served.sent[WEIGHTS] < 64 << 20
    assert cache_problems(served.cache_dir) == [] and not list(served.cache_dir.rglob("*.partial*"))


def test_unpinned_file_over_the_size_cap_is_refused_before_the_body(served, saved, monkeypatch):  # noqa: F811
    monkeypatch.setenv(transfer.MAX_BYTES_ENV, str((saved / "config.json").stat().st_size + 10))
    with pytest.raises(DownloadError, match=r"`model.weights.h5`.*more than the \d+ bytes.*KERAS_GENAE_MAX_DOWNLOAD_BYTES"):
        keras_genae.load(f"hf://{REPO}")
    assert served.count("GET", WEIGHTS) == 0


def test_trickling_server_hits_the_deadline(served, monkeypatch):  # noqa: F811
    monkeypatch.setenv(transfer.TIMEOUT_ENV, "1")
    served.faults[WEIGHTS] = ("trickle", 0.05)
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"`model.weights.h5`.*took longer than 1 s.*KERAS_GENAE_DOWNLOAD_TIMEOUT"):
        keras_genae.load(f"hf://{REPO}")
    assert time.monotonic() - start < 5
    assert cache_problems(served.cache_dir) == [] and not list(served.cache_dir.rglob("*.partial*"))


@pytest.mark.parametrize("var", [transfer.TIMEOUT_ENV, transfer.MAX_BYTES_ENV])
def test_bad_limit_settings_are_named(served, monkeypatch, var):  # noqa: F811
    monkeypatch.setenv(var, "soon")
    with pytest.raises(ValueError, match=rf"`{var}` must be a positive number. Received: {var}='soon'"):
        keras_genae.load(f"hf://{REPO}")


# ------------------------------------------------------------ 5. redirects
def test_redirect_to_another_repos_file_is_refused_and_not_cached(served, model, images, tmp_path):  # noqa: F811
    other = tiny_autoencoder(seed=7)
    keras_genae.save_pretrained(other, tmp_path / "other", verbose=False)
    served.commit_dir("genae-test/other_ae", tmp_path / "other")
    served.faults[WEIGHTS] = ("redirect", "genae-test/other_ae")
    with pytest.raises(DownloadError, match=r"redirected `model.weights.h5` of `genae-test/tiny_ae` to "
                                            r"'/genae-test/other_ae/resolve/main/model.weights.h5'"):
        keras_genae.load(f"hf://{REPO}")
    foreign = keras_genae.hub.manifest.file_digest(tmp_path / "other" / WEIGHTS)[0]
    assert foreign not in {p.name for p in blob_files(served.cache_dir)}
    served.faults.clear()
    np.testing.assert_array_equal(outputs(keras_genae.load(f"hf://{REPO}"), images), outputs(model, images))


def test_weights_that_do_not_fit_are_not_left_in_the_cache(served, saved, tmp_path):  # noqa: F811
    bigger = keras_genae.Autoencoder(image_shape=(8, 8, 1), latent_dim=6, encoder_filters=(4, 8))
    keras_genae.save_pretrained(bigger, tmp_path / "bigger", verbose=False)
    served.commit("genae-test/misfit", {"config.json": (saved / "config.json").read_bytes(),
                                        WEIGHTS: (tmp_path / "bigger" / WEIGHTS).read_bytes()})
    with pytest.raises(ValueError, match="Could not load the weights"):
        keras_genae.load("hf://genae-test/misfit")
    storage = served.cache_dir / "models--genae-test--misfit"
    assert not [p for p in storage.rglob("*") if p.is_file() or p.is_symlink()
                if p.parent.name != "refs"]


# ------------------------------------------- 6. bare name vs. a local folder
def test_bare_manifest_name_means_the_zoo_even_with_a_folder_of_that_name(
        served, pinned, saved, model, tmp_path, monkeypatch):  # noqa: F811
    other = tiny_autoencoder(seed=9)
    monkeypatch.chdir(tmp_path)
    keras_genae.save_pretrained(other, "tiny_ae", verbose=False)
    with pytest.warns(UserWarning, match=r"Loading the zoo model 'tiny_ae'.*load\('\./tiny_ae'\)"):
        zoo_model = keras_genae.load("tiny_ae")
    assert weights_equal(zoo_model, model)
    assert weights_equal(keras_genae.load("./tiny_ae"), other)
    assert weights_equal(keras_genae.load(str(tmp_path / "tiny_ae")), other)
