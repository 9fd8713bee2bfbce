"""Hostile inputs (issue 12): training runs (items 10-12), racing saves
(13), configs (14), and the defences that must keep holding."""

import dataclasses
import errno
import json
import os
import signal
import subprocess
import sys
import threading
import zipfile

import keras
import numpy as np
import pytest

import keras_genae
from keras_genae import callbacks
from keras_genae.hub import checkpoint_reader
from keras_genae.workflow import train as train_lib
from keras_genae.callbacks import EpochCheckpoint
from keras_genae.errors import RunLockedError
from keras_genae.utils import io as io_utils
from keras_genae.utils import run_lock
from tests.helpers import LOCK_HOLDER
from tests.helpers import write_npz_dir
from tests.test_train import tiny_recipe

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def run(tmp_path):
    """A tiny recipe, its data folder and its output folder."""
    data_dir = write_npz_dir(tmp_path / "data", n_train=128, n_test=16)
    out = str(tmp_path / "out")
    return tiny_recipe(epochs=1), data_dir, out


def iterations(model):
    return int(model.optimizer.iterations.numpy())


# ---------------------------------------- 10. model and state as one unit
def test_crash_between_model_and_state_json_does_not_repeat_an_epoch(run, monkeypatch):
    recipe, data_dir, out = run
    model, _ = train_lib.train(recipe, data_dir=data_dir, out=out, verbose=0)
    steps = iterations(model)

    def power_cut(path, obj):  # last.keras of epoch 2 is in place; state.json is not.
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(callbacks, "write_json", power_cut)
    with pytest.raises(KeyboardInterrupt):
        train_lib.train(dataclasses.replace(recipe, epochs=2), data_dir=data_dir, out=out, verbose=0)
    monkeypatch.undo()
    state_dir = os.path.join(out, "ae_mnist.state")
    restored, finished = EpochCheckpoint.restore(state_dir)
    assert finished == 2 and iterations(restored) == 2 * steps
    model, state = train_lib.train(dataclasses.replace(recipe, epochs=2), data_dir=data_dir, out=out, verbose=0)
    assert iterations(model) == 2 * steps  # Epoch 2 was not trained again.
    assert state["epochs"] == 2 and len(state["history"]["loss"]) == 2


def test_crash_mid_epoch_resumes_from_the_last_finished_epoch(run, monkeypatch):
    """What kill -9 mid-epoch leaves (nothing is being written mid-epoch)."""
    recipe, data_dir, out = run
    model, _ = train_lib.train(recipe, data_dir=data_dir, out=out, verbose=0)
    steps = iterations(model)

    def kill(self, batch, logs=None):
        if iterations(self.model) > steps:
            raise KeyboardInterrupt("killed mid-epoch")

    monkeypatch.setattr(keras.callbacks.TerminateOnNaN, "on_batch_end", kill)
    with pytest.raises(KeyboardInterrupt):
        train_lib.train(dataclasses.replace(recipe, epochs=3), data_dir=data_dir, out=out, verbose=0)
    monkeypatch.undo()
    assert EpochCheckpoint.restore(os.path.join(out, "ae_mnist.state"))[1] == 1
    model, state = train_lib.train(dataclasses.replace(recipe, epochs=3), data_dir=data_dir, out=out, verbose=0)
    assert iterations(model) == 3 * steps and state["epochs"] == 3 and len(state["history"]["loss"]) == 3


# --------------------------------- 11. a damaged last.keras, leftover files
def test_truncated_state_names_the_file_and_restart_cleans_up(run, capsys):
    recipe, data_dir, out = run
    train_lib.train(recipe, data_dir=data_dir, out=out, verbose=0)
    state_dir = os.path.join(out, "ae_mnist.state")
    last = os.path.join(state_dir, "last.keras")
    with open(last, "r+b") as f:
        f.truncate(os.path.getsize(last) // 2)
    with pytest.raises(ValueError, match=r"training state '.*last.keras' is damaged.*`--restart`"):
        train_lib.train(recipe, data_dir=data_dir, out=out, verbose=0)
    # What a kill -9 during saves leaves behind.
    leftovers = [os.path.join(state_dir, ".last.k2j4.partial.keras"), os.path.join(state_dir, ".state.x1.partial.json")]
    for path in leftovers:
        open(path, "wb").close()
    os.mkdir(os.path.join(out, ".ae_mnist.q9.tmp"))
    model, state = train_lib.train(recipe, data_dir=data_dir, out=out, verbose=0, restart=True)
    assert state["epochs"] == 1 and len(state["history"]["loss"]) == 1
    assert sorted(os.listdir(state_dir)) == ["last.keras", "state.json"]
    assert not os.path.exists(os.path.join(out, ".ae_mnist.q9.tmp"))
    assert EpochCheckpoint.restore(state_dir)[1] == 1


def test_restart_flag_reaches_train(monkeypatch, tmp_path):
    from keras_genae import cli

    from keras_genae.models import Autoencoder

    calls = []
    model = Autoencoder(image_shape=(28, 28, 1), latent_dim=2, encoder_filters=(4,))
    monkeypatch.setattr(train_lib, "train", lambda *a, **k: calls.append(k) or (model, {"epochs": 0, "train_seconds": 0}))
    monkeypatch.setattr(train_lib, "finish_checkpoint", lambda *a, **k: "ckpt")
    assert cli.main(["train", "ae_mnist", "--out", str(tmp_path), "--restart"]) == 0
    assert calls[-1]["restart"] is True


# ------------------------------------------------------ 12. one run at a time


def test_second_run_refuses_and_a_killed_run_leaves_no_lock(run):
    recipe, data_dir, out = run
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, run_lock.__file__, out, recipe.name],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError, match=rf"Another run \(pid {holder.pid}, host .*\) is writing "
                                                 r"'.*ae_mnist'.*A run that died leaves no lock behind"):
            train_lib.train(recipe, data_dir=data_dir, out=out, verbose=0)
        assert not os.path.exists(os.path.join(out, "ae_mnist.state"))
        with run_lock.run_lock(out, "another_recipe"):  # Other names are not blocked.
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        holder.stdout.close()
    _, state = train_lib.train(recipe, data_dir=data_dir, out=out, verbose=0)
    assert state["epochs"] == 1


def test_run_lock_nests_within_a_process(tmp_path):
    with run_lock.run_lock(tmp_path, "r") as path:
        with run_lock.run_lock(tmp_path, "r"):
            pass
        assert json.loads(open(path).read())["pid"] == os.getpid()


# -------------------------------------------- 13. save_pretrained racing itself
def test_save_pretrained_survives_a_writer_that_lands_first(tmp_path, monkeypatch):
    model = keras_genae.Autoencoder(image_shape=(8, 8, 1), latent_dim=4, encoder_filters=(4, 8))
    target = tmp_path / "ckpt"
    keras_genae.save_pretrained(model, target, verbose=False)
    real_rename, raced = os.rename, []

    def racing_rename(src, dst):
        # Another save_pretrained(overwrite=True) puts its directory in place first.
        if str(src).endswith(".tmp") and str(dst) == str(target) and not raced:
            raced.append(src)
            os.mkdir(target)
            open(os.path.join(target, "config.json"), "w").close()
        return real_rename(src, dst)

    monkeypatch.setattr(io_utils.os, "rename", racing_rename)
    keras_genae.save_pretrained(model, target, overwrite=True, verbose=False)
    monkeypatch.undo()
    assert sorted(os.listdir(target)) == ["README.md", "config.json", "metadata.json", "model.weights.h5"]
    keras_genae.load(str(target))
    assert raced and [p.name for p in tmp_path.iterdir()] == ["ckpt"]  # No .old or .tmp left.


def test_replace_dir_racing_itself_never_fails(tmp_path):
    dst, errors = tmp_path / "dst", []

    def writer(tag):
        for i in range(150):
            src = tmp_path / f".{tag}.{i}.tmp"
            src.mkdir()
            (src / f"{tag}_{i}").write_text("x")
            try:
                io_utils.replace_dir(src, dst)
            except OSError as e:  # pragma: no cover - the failure this test catches
                errors.append(e)

    threads = [threading.Thread(target=writer, args=(t,)) for t in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(os.listdir(dst)) == 1  # One complete directory: the last writer's.
    assert [p.name for p in tmp_path.iterdir()] == ["dst"]


def test_atomic_dir_never_leaves_a_half_written_directory(tmp_path):
    target = tmp_path / "ckpt"
    with io_utils.atomic_dir(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".ckpt.") and tmp.name.endswith(".tmp")
        (tmp / "a.json").write_text("1")
        assert not target.exists()  # Nothing at the target while it is written.
    assert os.listdir(target) == ["a.json"] and oct(target.stat().st_mode & 0o777) == "0o755"
    with pytest.raises(FileExistsError, match=r"overwrite=True.*Received: path="):
        with io_utils.atomic_dir(target):
            pass
    with pytest.raises(KeyboardInterrupt):  # A crash mid-write: the old directory stays whole.
        with io_utils.atomic_dir(target, overwrite=True) as tmp:
            (tmp / "b.json").write_text("half")
            raise KeyboardInterrupt
    assert os.listdir(target) == ["a.json"]
    with io_utils.atomic_dir(target, overwrite=True) as tmp:
        (tmp / "sub").mkdir()
        (tmp / "sub" / "c.json").write_text("2")
    assert sorted(os.listdir(target)) == ["sub"]
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]  # No .tmp or .old left.


def test_atomic_dir_refuses_a_directory_another_writer_created_meanwhile(tmp_path):
    target = tmp_path / "ckpt"
    with pytest.raises(FileExistsError, match="another writer"):
        with io_utils.atomic_dir(target) as tmp:
            (tmp / "mine").write_text("x")
            target.mkdir()
            (target / "theirs").write_text("y")
    assert os.listdir(target) == ["theirs"] and [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_atomic_path_and_write_json_keep_the_old_file_on_a_crash(tmp_path):
    path = tmp_path / "state.json"
    io_utils.write_json(path, {"epoch": 1})
    with pytest.raises(KeyboardInterrupt):
        with io_utils.atomic_path(path) as tmp:
            assert tmp.endswith(".partial.json")
            with open(tmp, "w") as f:
                f.write('{"epo')
            raise KeyboardInterrupt
    assert json.loads(path.read_text()) == {"epoch": 1} and os.listdir(tmp_path) == ["state.json"]


def test_one_git_blob_sha1_for_files_and_bytes(tmp_path):
    from keras_genae.hub.download import git_blob_sha1

    (tmp_path / "f").write_bytes(b"hello\n")
    # `git hash-object` of "hello\n".
    assert git_blob_sha1(tmp_path / "f") == git_blob_sha1(data=b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"
    with pytest.raises(ValueError, match="exactly one of `path` and `data`"):
        git_blob_sha1(tmp_path / "f", data=b"")


# ------------------------------------------------------------- 14. configs
@pytest.fixture
def ckpt(tmp_path):
    model = keras_genae.Autoencoder(image_shape=(8, 8, 1), latent_dim=4, encoder_filters=(4, 8))
    keras_genae.save_pretrained(model, tmp_path / "ckpt", verbose=False)
    return tmp_path / "ckpt"


def edit_config(directory, edit):
    path = directory / "config.json"
    config = json.loads(path.read_text())
    edit(config["config"])
    path.write_text(json.dumps(config))


@pytest.mark.parametrize("field, value, message", [
    ("latent_dim", 10**12, r"`latent_dim` of Autoencoder must be at most 65536.*Received: latent_dim=1000000000000"),
    ("encoder_filters", [4, 2**40], r"`encoder_filters\[1\]` of Autoencoder must be at most.*Received: encoder_filters="),
    ("encoder_filters", [40000, 40000], r"`encoder_filters\[0\]`=40000 and `encoder_filters\[1\]`=40000"),
])
def test_huge_config_is_a_value_error_naming_the_field(ckpt, field, value, message):
    edit_config(ckpt, lambda c: c.update({field: value}))
    with pytest.raises(ValueError, match=message):
        keras_genae.load(str(ckpt))
    with pytest.raises(ValueError, match=message):  # Overrides are checked too.
        keras_genae.load(str(ckpt), pretrained=False, **{field: value})


def test_config_nested_5000_deep_is_a_value_error_naming_the_field(ckpt):
    text = (ckpt / "config.json").read_text()
    assert '"latent_dim": 4' in text
    (ckpt / "config.json").write_text(text.replace('"latent_dim": 4', '"latent_dim": ' + "[" * 5000 + "]" * 5000))
    with pytest.raises(ValueError, match=r"nests deeper than 64 levels, at `config\.latent_dim"):
        keras_genae.load(str(ckpt))
    nested = {"config": {}}
    for _ in range(5000):
        nested = {"a": nested}
    with pytest.raises(ValueError, match="nests deeper than 64 levels"):
        checkpoint_reader._check_nested(nested, "test", "config")


# --------------------------------------------------- what must keep holding
def test_lambda_payload_is_refused(ckpt):
    lam = {"module": "keras.layers", "class_name": "Lambda", "config": {"function": "print"}, "registered_name": None}
    edit_config(ckpt, lambda c: c.update({"seed": lam}))
    with pytest.raises(ValueError, match="Refusing to load.*'Lambda'"):
        keras_genae.load(str(ckpt))


def keras_archive(path, ckpt, extra=()):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(ckpt / "config.json", "config.json")
        zf.write(ckpt / "model.weights.h5", "model.weights.h5")
        for name, data in extra:
            zf.writestr(name, data)
    return path


def test_keras_archive_zip_slip_writes_nothing_outside(ckpt, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    archive = keras_archive(tmp_path / "slip.keras", ckpt, [("../../escaped.txt", b"x"), ("/abs_escaped.txt", b"x")])
    keras_genae.load(str(archive))
    assert not list(tmp_path.parent.parent.rglob("escaped.txt"))
    assert not os.path.exists("/abs_escaped.txt")


def test_keras_archive_bomb_is_refused(ckpt, tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint_reader, "_ZIP_BOMB_FLOOR", 1 << 20)
    with zipfile.ZipFile(tmp_path / "bomb.keras", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(ckpt / "config.json", "config.json")
        zf.writestr("model.weights.h5", bytes(4 << 20))
    with pytest.raises(ValueError, match="likely decompression bomb"):
        keras_genae.load(str(tmp_path / "bomb.keras"))


def test_an_unrelated_os_error_in_replace_dir_still_raises(tmp_path, monkeypatch):
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "old").write_text("keep")
    src = tmp_path / ".src.tmp"
    src.mkdir()
    real_rename = os.rename

    def failing(a, b):
        if str(a) == str(src):
            raise OSError(errno.EACCES, "Permission denied")
        return real_rename(a, b)

    monkeypatch.setattr(io_utils.os, "rename", failing)
    with pytest.raises(OSError, match="Permission denied"):
        io_utils.replace_dir(src, dst)
    monkeypatch.undo()
    assert (dst / "old").read_text() == "keep"  # The old directory was put back.
    assert np.array_equal(sorted(p.name for p in tmp_path.iterdir()), [".src.tmp", "dst"])
