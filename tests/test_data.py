import gzip

import numpy as np
import pytest
import torch

from vaelib import data, datafiles, runtime
from vaelib.data import DeviceLoader, load_dataset, stratified_subset, to_float
from vaelib.datafiles import read_idx


def write_idx(path, array: np.ndarray, gz: bool) -> None:
    """An IDX file: zero, zero, type 0x08 (ubyte), ndim, big-endian dims, then the bytes."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    blob = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(f"{path}.gz", "wb") as f:
            f.write(blob)
    else:
        path.write_bytes(blob)


def make_dataset(folder, n=20, gz=True, fill=7) -> None:
    """A tiny fake data set: n images filled with ``fill`` and labels 0..9 repeating."""
    for images, labels in datafiles.FILES.values():
        write_idx(folder / images, np.full((n, 28, 28), fill), gz)
        write_idx(folder / labels, np.arange(n) % 10, gz)


@pytest.fixture
def no_system_data(tmp_path, monkeypatch):
    """Hide the machine's own data: repo data/ and the system folder point at empty folders."""
    monkeypatch.setattr(runtime, "REPO_ROOT", tmp_path / "repo")
    monkeypatch.setattr(
        datafiles, "SYSTEM_DIRS", {k: str(tmp_path / "system" / k) for k in datafiles.SYSTEM_DIRS}
    )
    monkeypatch.delenv("VAELIB_DATA", raising=False)
    monkeypatch.setattr(datafiles, "SIZES", {"train": 20, "test": 20})  # make_dataset's size
    return tmp_path


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_round_trips_shape_and_values(tmp_path, gz):
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    write_idx(tmp_path / "a-idx3-ubyte", array, gz)
    path = tmp_path / ("a-idx3-ubyte.gz" if gz else "a-idx3-ubyte")
    np.testing.assert_array_equal(read_idx(path), array)


def test_read_idx_rejects_other_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x89PNG....")
    with pytest.raises(ValueError, match="not an unsigned-byte IDX file"):
        read_idx(tmp_path / "bad")
    write_idx(tmp_path / "short", np.zeros((4, 4)), gz=False)
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "short")


def test_load_dataset_searches_root_then_env_then_repo_then_system(no_system_data, monkeypatch):
    tmp = no_system_data
    make_dataset(tmp / "system" / "fashion-mnist", fill=1)
    assert load_dataset(fast=False)[0].flatten()[0] == 1
    make_dataset(tmp / "repo" / "data" / "FashionMNIST" / "raw", fill=2, gz=False)
    assert load_dataset(fast=False)[0].flatten()[0] == 2
    make_dataset(tmp / "env" / "fashion-mnist", fill=3)
    monkeypatch.setenv("VAELIB_DATA", str(tmp / "env"))
    assert load_dataset(fast=False)[0].flatten()[0] == 3
    make_dataset(tmp / "root" / "fashion-mnist", fill=4)
    images, labels = load_dataset("fashion-mnist", "test", root=tmp / "root", fast=False)
    assert images.flatten()[0] == 4
    assert images.shape == (20, 1, 28, 28) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64 and labels.tolist() == [i % 10 for i in range(20)]


def test_mnist_has_its_own_folders(no_system_data, monkeypatch):
    make_dataset(no_system_data / "env" / "mnist", fill=5)
    make_dataset(no_system_data / "env" / "fashion-mnist", fill=6)
    monkeypatch.setenv("VAELIB_DATA", str(no_system_data / "env"))
    assert load_dataset("mnist", fast=False)[0].flatten()[0] == 5
    assert load_dataset("MNIST", fast=False)[0].flatten()[0] == 5
    assert load_dataset("FashionMNIST", fast=False)[0].flatten()[0] == 6


def test_missing_data_names_the_package_and_vaelib_data(no_system_data):
    with pytest.raises(FileNotFoundError) as info:
        load_dataset()
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "VAELIB_DATA" in message
    assert str(no_system_data / "system" / "fashion-mnist") in message


def test_cli_ensure_reports_missing_data(no_system_data, monkeypatch, capsys):
    monkeypatch.setattr(datafiles.os, "geteuid", lambda: 1000)  # not root: never runs apt-get
    assert datafiles.main(["--ensure"]) == 1
    assert "apt-get install dataset-fashion-mnist" in capsys.readouterr().err
    make_dataset(no_system_data / "system" / "fashion-mnist")
    assert datafiles.main([]) == 0
    assert "fashion-mnist" in capsys.readouterr().out


def test_unknown_name_and_split_are_value_errors():
    with pytest.raises(
        ValueError, match=r"name='cifar10'.*use one of \['fashion-mnist', 'mnist'\]"
    ):
        load_dataset("cifar10")
    with pytest.raises(ValueError, match="split='valid'.*'train' or 'test'"):
        load_dataset(split="valid")


def test_real_fashion_mnist_full_and_fast():
    images, labels = load_dataset("fashion-mnist", "test", fast=False)
    assert images.shape == (10_000, 1, 28, 28) and images.dtype == torch.uint8
    assert torch.bincount(labels).tolist() == [1000] * 10
    fast_images, fast_labels = load_dataset("fashion-mnist", "test")  # conftest: fast mode on
    assert fast_images.shape == (data.FAST_SIZES["test"], 1, 28, 28)
    assert torch.bincount(fast_labels).tolist() == [data.FAST_SIZES["test"] // 10] * 10
    keep = stratified_subset(labels, data.FAST_SIZES["test"])
    assert torch.equal(fast_images, images[keep])


def test_stratified_subset_takes_the_first_of_each_class():
    labels = torch.tensor([0, 1, 0, 1, 0, 1, 2, 2, 2])
    assert stratified_subset(labels, 6).tolist() == [0, 1, 2, 3, 6, 7]
    with pytest.raises(ValueError, match="smaller than the number of classes"):
        stratified_subset(labels, 2)
    with pytest.raises(ValueError, match=r"labels must have shape \(N,\)"):
        stratified_subset(labels.view(3, 3), 3)


def test_to_float_scales_uint8_to_unit_interval():
    x = to_float(torch.tensor([[[[0, 255, 51]]]], dtype=torch.uint8))
    assert x.dtype == torch.float32
    assert torch.allclose(x, torch.tensor([[[[0.0, 1.0, 0.2]]]]))
    with pytest.raises(ValueError, match="images must be uint8"):
        to_float(torch.zeros(1, 1, 2, 2))


def images_like(n=10):
    return (torch.arange(n, dtype=torch.uint8) * 25).view(n, 1, 1, 1).expand(n, 1, 2, 2).clone()


def test_device_loader_visits_every_image_once_per_epoch_in_float():
    loader = DeviceLoader(images_like(10), batch_size=4, seed=0)
    batches = list(loader)
    assert len(loader) == 3 and [b.shape[0] for b in batches] == [4, 4, 2]
    seen = torch.cat(batches)[:, 0, 0, 0]
    assert seen.dtype == torch.float32 and 0 <= seen.min() and seen.max() <= 1
    assert torch.allclose(seen.sort().values, torch.arange(10) * 25 / 255)
    assert not torch.equal(seen, seen.sort().values)  # shuffled


def test_device_loader_is_reproducible_and_reshuffles_each_epoch():
    a, b = DeviceLoader(images_like(), 3, seed=1), DeviceLoader(images_like(), 3, seed=1)
    first_a, first_b = torch.cat(list(a)), torch.cat(list(b))
    assert torch.equal(first_a, first_b)
    assert not torch.equal(first_a, torch.cat(list(a)))
    in_order = torch.cat(list(DeviceLoader(images_like(), 3, shuffle=False)))
    assert torch.equal(in_order[:, 0, 0, 0], torch.arange(10) * 25 / 255)


def test_device_loader_drop_last_and_binarize():
    loader = DeviceLoader(images_like(10), 4, drop_last=True)
    assert len(loader) == 2 and all(b.shape[0] == 4 for b in loader)
    grey = torch.full((2000, 1, 2, 2), 51, dtype=torch.uint8)  # intensity 0.2
    x = torch.cat(list(DeviceLoader(grey, 500, binarize=True, seed=0)))
    assert set(x.unique().tolist()) == {0.0, 1.0}
    assert x.mean().item() == pytest.approx(0.2, abs=0.01)


def test_device_loader_rejects_bad_input():
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        DeviceLoader(images_like(), 0)
    with pytest.raises(ValueError, match=r"images must have shape \(N, C, H, W\)"):
        DeviceLoader(torch.zeros(10, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"uint8 or floats in \[0, 1\]"):
        DeviceLoader(torch.full((2, 1, 2, 2), 255.0))


def test_train_validation_split_is_stratified_seeded_disjoint_and_complete():
    labels = torch.arange(200) % 10  # 20 images per class
    labels[:7] = 3  # and one class larger than the others
    split = data.train_validation_split(labels, 50, seed=1)
    train, val = split.train, split.validation
    assert len(val) == 50 and len(train) == 150
    assert set(train.tolist()).isdisjoint(val.tolist())  # disjoint ...
    assert sorted(train.tolist() + val.tolist()) == list(range(200))  # ... and complete
    assert torch.equal(val, val.sort().values) and torch.equal(train, train.sort().values)
    counts = torch.bincount(labels[val], minlength=10)
    expected = torch.bincount(labels, minlength=10).double() * 50 / 200  # per class, rounded
    assert torch.all((counts - expected).abs() < 1)  # stratified
    again = data.train_validation_split(labels, 50, seed=1)
    assert torch.equal(again.validation, val)  # seeded
    other = data.train_validation_split(labels, 50, seed=2)
    assert not torch.equal(other.validation, val)
    with pytest.raises(ValueError, match="n_validation=200 must be below"):
        data.train_validation_split(labels, 200)
    with pytest.raises(ValueError, match="labels must be integer class labels"):
        data.train_validation_split(labels.float(), 10)


def test_shared_images_counts_images_in_both_sets_pixel_for_pixel():
    from vaelib.data import shared_images

    a = torch.arange(4 * 4, dtype=torch.uint8).view(4, 1, 2, 2)
    b = torch.cat([a[2:3], torch.full((2, 1, 2, 2), 200, dtype=torch.uint8)])
    assert shared_images(a, b) == 1  # a[2] occurs in b
    assert shared_images(a, a) == 4 and shared_images(a[:2], b) == 0
    c = a.clone()
    c[2, 0, 0, 0] += 1  # one pixel differs: not the same image
    assert shared_images(c, b) == 0
    with pytest.raises(ValueError, match="one dtype and shape"):
        shared_images(a, a.float())
    with pytest.raises(ValueError, match="one dtype and shape"):
        shared_images(a, a.view(4, 1, 4, 1))
