"""course_utils.device: device choice, the environment override, seeding, moving batches."""

import random
from collections import OrderedDict, namedtuple

import numpy as np
import pytest
import torch

from course_utils import device as device_module
from course_utils.device import (
    DEVICE_ENV_VAR,
    default_device,
    describe_device,
    get_device,
    seed_everything,
    to_device,
)

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture
def no_override(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV_VAR, raising=False)


@pytest.fixture
def cpu_only_machine(monkeypatch, no_override):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device_module, "_mps_works", lambda: False)


def test_default_device_is_the_cpu_on_a_machine_without_accelerators(cpu_only_machine):
    assert default_device() == torch.device("cpu")


def test_default_device_prefers_cuda_when_it_is_available(monkeypatch, no_override):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(device_module, "_mps_works", lambda: True)
    assert default_device() == torch.device("cuda")


def test_default_device_takes_mps_when_there_is_no_cuda(monkeypatch, no_override):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device_module, "_mps_works", lambda: True)
    assert default_device() == torch.device("mps")


def test_environment_variable_overrides_the_default(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv(DEVICE_ENV_VAR, "cpu")
    assert default_device() == torch.device("cpu")


def test_environment_variable_with_an_unknown_name_raises_a_clear_error(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV_VAR, "gpu0")
    with pytest.raises(ValueError, match=r"CNN_COURSE_DEVICE.*\"gpu0\" is not a device name"):
        default_device()


def test_environment_variable_asking_for_missing_cuda_raises_a_clear_error(
    monkeypatch, cpu_only_machine
):
    monkeypatch.setenv(DEVICE_ENV_VAR, "cuda")
    with pytest.raises(ValueError, match=r"CNN_COURSE_DEVICE.*is_available\(\) is False"):
        default_device()


def test_environment_variable_asking_for_missing_mps_raises_a_clear_error(
    monkeypatch, cpu_only_machine
):
    monkeypatch.setenv(DEVICE_ENV_VAR, "mps")
    with pytest.raises(ValueError, match="MPS"):
        default_device()


def test_get_device_without_argument_returns_the_default(cpu_only_machine):
    assert get_device() == default_device() == torch.device("cpu")


@pytest.mark.parametrize("value", ["cpu", torch.device("cpu")])
def test_get_device_accepts_a_string_or_a_torch_device(value):
    assert get_device(value) == torch.device("cpu")


def test_get_device_refuses_cuda_on_a_machine_without_it(cpu_only_machine):
    with pytest.raises(ValueError, match=r"\"cuda\" was asked for"):
        get_device("cuda")


def test_get_device_refuses_a_cuda_index_beyond_the_device_count(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"1 CUDA device\(s\)"):
        get_device("cuda:3")


@pytest.mark.parametrize("value", ["tpu", "not a device", 3])
def test_get_device_refuses_things_that_are_not_course_devices(value):
    with pytest.raises(ValueError):
        get_device(value)


def test_seed_everything_makes_every_global_generator_repeat():
    def draw():
        return random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist()

    seed_everything(123)
    first = draw()
    seed_everything(123)
    second = draw()
    seed_everything(124)
    third = draw()
    assert first == second
    assert first != third


def test_seed_everything_returns_a_generator_seeded_with_the_seed():
    generator = seed_everything(7)
    expected = torch.rand(4, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(torch.rand(4, generator=generator), expected)


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "0", True])
def test_seed_everything_refuses_a_seed_numpy_cannot_take(seed):
    with pytest.raises(ValueError, match="seed"):
        seed_everything(seed)


def test_describe_device_on_the_cpu_names_the_thread_count():
    assert describe_device("cpu") == f"cpu ({torch.get_num_threads()} threads)"


def test_to_device_moves_a_tensor():
    moved = to_device(torch.ones(2, dtype=torch.float64), "cpu")
    assert moved.device == torch.device("cpu")
    assert moved.dtype == torch.float64


def test_to_device_keeps_the_structure_of_nested_containers():
    Batch = namedtuple("Batch", ["images", "labels"])
    batch = {
        "pair": (torch.zeros(2, 1, 3, 3), torch.tensor([0, 1])),
        "list": [torch.ones(1), 5, "name", None],
        "named": Batch(torch.zeros(1), torch.ones(1)),
        "ordered": OrderedDict(a=torch.zeros(1)),
    }
    moved = to_device(batch, torch.device("cpu"), non_blocking=True)
    assert isinstance(moved["pair"], tuple)
    assert isinstance(moved["list"], list)
    assert isinstance(moved["named"], Batch)
    assert isinstance(moved["ordered"], OrderedDict)
    assert moved["list"][1:] == [5, "name", None]
    torch.testing.assert_close(moved["pair"][0], batch["pair"][0])
    assert moved["named"].labels.device == torch.device("cpu")


def test_to_device_does_not_modify_the_input_container():
    batch = {"x": torch.zeros(1)}
    moved = to_device(batch, "cpu")
    assert moved is not batch


@pytest.mark.cuda
@requires_cuda
def test_cuda_is_the_default_and_batches_move_there_and_back(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV_VAR, raising=False)
    assert default_device().type == "cuda"
    assert describe_device().startswith("cuda:")
    assert "GiB" in describe_device()
    images = torch.randn(4, 1, 28, 28).pin_memory()
    labels = torch.arange(4)
    on_gpu = to_device((images, labels), "cuda", non_blocking=True)
    assert all(tensor.device.type == "cuda" for tensor in on_gpu)
    back = to_device(on_gpu, "cpu")
    torch.testing.assert_close(back[0], images)
    torch.testing.assert_close(back[1], labels)
    generator = seed_everything(5)
    first = torch.rand(3, device="cuda")
    seed_everything(5)
    torch.testing.assert_close(torch.rand(3, device="cuda"), first)
    assert generator.device.type == "cpu"
