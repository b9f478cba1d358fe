"""course_utils.reference.modules against torch.nn and the functional twins."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.reference import conv_param_count
from course_utils.reference import layers as ref
from course_utils.reference.modules import (
    Affine,
    AvgPool,
    Conv2d,
    Dropout,
    Flatten,
    MaxPool,
    ReLU,
    small_cnn,
)

DOUBLE = torch.float64
TOL = {"rtol": 1e-10, "atol": 1e-10}


def _randn(*shape, seed=0, dtype=DOUBLE):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize(
    "kernel_size, stride, pad, size",
    [(3, 1, 1, (7, 7)), ((2, 3), 2, 0, (8, 9)), (1, 3, 2, (6, 6))],
)
def test_conv2d_module_matches_nn_conv2d_with_the_same_parameters(kernel_size, stride, pad, size):
    torch.manual_seed(0)
    ours = Conv2d(3, 4, kernel_size, stride=stride, pad=pad).double()
    theirs = nn.Conv2d(3, 4, kernel_size, stride=stride, padding=pad).double()
    with torch.no_grad():
        theirs.weight.copy_(ours.weight)
        theirs.bias.copy_(ours.bias)
    x = _randn(2, 3, *size)
    torch.testing.assert_close(ours(x), theirs(x), **TOL)
    ours(x).sum().backward()
    theirs(x).sum().backward()
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad, **TOL)
    torch.testing.assert_close(ours.bias.grad, theirs.bias.grad, **TOL)


def test_conv2d_module_gradients_equal_the_conv_backward_twin():
    layer = Conv2d(2, 3, 3, stride=2, pad=1).double()
    x = _randn(2, 2, 5, 5).requires_grad_()
    out = layer(x)
    dout = _randn(*out.shape, seed=1)
    grads = torch.autograd.grad(out, (x, layer.weight, layer.bias), grad_outputs=dout)
    conv_param = {"stride": 2, "pad": 1}
    _, cache = ref.conv_forward_fast(
        x.detach(), layer.weight.detach(), layer.bias.detach(), conv_param
    )
    for got, want in zip(grads, ref.conv_backward_fast(dout, cache)):
        torch.testing.assert_close(got, want, **TOL)


def test_conv2d_module_is_initialised_like_nn_conv2d():
    layer = Conv2d(4, 8, 3)
    bound = 1 / (4 * 3 * 3) ** 0.5
    assert layer.weight.shape == (8, 4, 3, 3) and layer.bias.shape == (8,)
    assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound
    assert layer.weight.std() > bound / 4  # filled, not left at zero


def test_conv2d_module_refuses_sizes_that_nn_conv2d_would_floor():
    with pytest.raises(ValueError, match=r"4\.5 is not an integer"):
        Conv2d(1, 1, 3, stride=2)(torch.zeros(1, 1, 10, 10))


def test_max_pool_module_matches_nn_max_pool2d_and_passes_gradcheck():
    x = _randn(2, 3, 6, 8, seed=2)
    torch.testing.assert_close(MaxPool(2)(x), nn.MaxPool2d(2)(x), **TOL)
    torch.testing.assert_close(MaxPool((3, 2), stride=1)(x), F.max_pool2d(x, (3, 2), 1), **TOL)
    x.requires_grad_()
    assert torch.autograd.gradcheck(MaxPool(3, stride=1), (x,))


def test_max_pool_module_sends_a_tied_gradient_to_the_first_maximum():
    x = torch.ones(1, 1, 2, 2, dtype=DOUBLE, requires_grad=True)
    MaxPool(2)(x).sum().backward()
    assert x.grad.tolist() == [[[[1.0, 0.0], [0.0, 0.0]]]]


def test_max_pool_module_needs_a_stride_for_a_rectangular_window():
    with pytest.raises(ValueError, match="explicit stride"):
        MaxPool((2, 3))


def test_avg_pool_module_matches_nn_avg_pool2d_and_global_pooling():
    x = _randn(2, 3, 6, 4, seed=3).requires_grad_()
    torch.testing.assert_close(AvgPool(2)(x), nn.AvgPool2d(2)(x), **TOL)
    torch.testing.assert_close(
        AvgPool((6, 4), stride=1)(x), x.mean(dim=(2, 3), keepdim=True), **TOL
    )
    assert torch.autograd.gradcheck(AvgPool((3, 2), stride=1), (x,))


def test_dropout_module_drops_p_in_training_and_is_the_identity_in_eval():
    layer = Dropout(0.3)
    x = torch.ones(100_000, dtype=DOUBLE)
    torch.manual_seed(0)
    out = layer(x)
    assert abs((out == 0).double().mean().item() - 0.3) < 0.01
    kept = out[out != 0]
    torch.testing.assert_close(kept, torch.full_like(kept, 1 / 0.7))
    layer.eval()
    assert torch.equal(layer(x), x)


def test_dropout_module_repeats_its_mask_after_torch_manual_seed():
    layer, x = Dropout(0.5), torch.ones(50)
    torch.manual_seed(3)
    first = layer(x)
    torch.manual_seed(3)
    assert torch.equal(layer(x), first)


def test_dropout_module_refuses_p_of_one_when_built():
    with pytest.raises(ValueError, match="probability of dropping"):
        Dropout(1.0)


def test_affine_module_is_nn_linear_with_a_transposed_weight():
    torch.manual_seed(0)
    ours = Affine(12, 5).double()
    theirs = nn.Linear(12, 5).double()
    with torch.no_grad():
        theirs.weight.copy_(ours.weight.T)
        theirs.bias.copy_(ours.bias)
    x = _randn(3, 3, 2, 2, seed=4)  # flattened to (3, 12) by the module itself
    torch.testing.assert_close(ours(x), theirs(x.flatten(1)), **TOL)
    assert ours.weight.shape == (12, 5)


def test_relu_and_flatten_modules():
    x = _randn(2, 3, 4, seed=5)
    torch.testing.assert_close(ReLU()(x), torch.relu(x))
    assert Flatten()(x).shape == (2, 12)


def test_small_cnn_maps_28x28_images_to_class_scores():
    model = small_cnn()
    assert model(torch.zeros(5, 1, 28, 28)).shape == (5, 10)
    model = small_cnn(num_classes=3, in_channels=3, width=8)
    assert model(torch.zeros(2, 3, 28, 28)).shape == (2, 3)


def test_small_cnn_parameter_count_is_two_convs_and_one_affine():
    expected = conv_param_count(1, 16, 3) + conv_param_count(16, 32, 3) + 32 * 7 * 7 * 10 + 10
    assert sum(p.numel() for p in small_cnn().parameters()) == expected == 20_490


def test_small_cnn_runs_in_float64_and_fits_a_small_batch():
    torch.manual_seed(0)
    model = small_cnn(width=4).double()
    x = _randn(8, 1, 28, 28, seed=6)
    y = torch.arange(8)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(15):
        loss = F.cross_entropy(model(x), y)
        first = loss.item() if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.dtype == DOUBLE
    assert loss.item() < 0.5 * first


@pytest.mark.slow
def test_small_cnn_reaches_80_percent_on_the_fashion_mnist_subset_in_two_epochs():
    data = pytest.importorskip("course_utils.data")
    x_train, y_train = data.load_fashion_mnist("train", as_tensors=True, device="cpu")
    x_test, y_test = data.load_fashion_mnist("test", as_tensors=True, device="cpu")
    torch.manual_seed(0)
    model = small_cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(2):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        for start in range(0, len(x_train), 64):
            batch = order[start : start + 64]
            loss = F.cross_entropy(model(x_train[batch]), y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(x_test).argmax(dim=1) == y_test).double().mean().item()
    assert accuracy >= 0.80


@pytest.mark.cuda
def test_small_cnn_on_cuda_matches_the_cpu():
    torch.manual_seed(0)
    model = small_cnn().double()
    x = _randn(4, 1, 28, 28, seed=7)
    cpu_out = model(x)
    cpu_out.sum().backward()
    cpu_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model.cuda()
    cuda_out = model(x.cuda())
    cuda_out.sum().backward()
    torch.testing.assert_close(cuda_out.cpu(), cpu_out, rtol=1e-9, atol=1e-9)
    for cpu_grad, p in zip(cpu_grads, model.parameters()):
        torch.testing.assert_close(p.grad.cpu(), cpu_grad, rtol=1e-9, atol=1e-9)
