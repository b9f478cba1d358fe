"""The course on a CUDA GPU: reference layers agree with the CPU, training runs there, and the
later notebooks run in their GPU configuration (FAST = False). All skipped without CUDA
(tests/conftest.py); `make test-gpu` runs them.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import torch

from course_utils import reference
from course_utils.data import load_fashion_mnist
from course_utils.train import evaluate, fit
from tests.gpu.both_devices import assert_same, on_both

pytestmark = pytest.mark.cuda

REPO = Path(__file__).resolve().parents[2]
GPU_NOTEBOOKS = ["05_architectures", "06_training_and_transfer", "07_detection_segmentation"]
CELL_TIMEOUT_S = 1800


def test_conv_forward_and_backward_agree_on_cuda_and_cpu():
    (x, w, b, dout), (xg, wg, bg, doutg) = on_both((4, 3, 9, 11), (5, 3, 3, 3), (5,), (4, 5, 5, 6))
    conv_param = {"stride": 2, "pad": 1}
    out, cache = reference.conv_forward_fast(x, w, b, conv_param)
    outg, cacheg = reference.conv_forward_fast(xg, wg, bg, conv_param)
    assert_same(out, outg)
    assert_same(
        reference.conv_backward_fast(dout, cache), reference.conv_backward_fast(doutg, cacheg)
    )


def test_max_pool_and_softmax_loss_agree_on_cuda_and_cpu():
    (x, dout), (xg, doutg) = on_both((2, 3, 8, 8), (2, 3, 4, 4))
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache = reference.max_pool_forward_naive(x, pool_param)
    outg, cacheg = reference.max_pool_forward_naive(xg, pool_param)
    assert_same(out, outg)
    assert_same(
        reference.max_pool_backward_naive(dout, cache),
        reference.max_pool_backward_naive(doutg, cacheg),
    )
    (scores,), (scoresg,) = on_both((16, 10))
    y = torch.arange(16) % 10
    assert_same(reference.softmax_loss(scores, y), reference.softmax_loss(scoresg, y.cuda()))


def test_batchnorm_forward_agrees_on_cuda_and_cpu():
    (x, gamma, beta), (xg, gammag, betag) = on_both((32, 6), (6,), (6,))
    out, _ = reference.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    outg, _ = reference.batchnorm_forward(xg, gammag, betag, {"mode": "train"})
    assert_same(out, outg)


def test_box_iou_and_nms_agree_on_cuda_and_cpu():
    generator = torch.Generator().manual_seed(0)
    corners = torch.rand(40, 2, generator=generator, dtype=torch.float64) * 50
    sizes = torch.rand(40, 2, generator=generator, dtype=torch.float64) * 20 + 1
    boxes = torch.cat([corners, corners + sizes], dim=1)
    scores = torch.rand(40, generator=generator, dtype=torch.float64)
    assert_same(reference.box_iou(boxes, boxes), reference.box_iou(boxes.cuda(), boxes.cuda()))
    keep = reference.nms(boxes, scores, 0.5)
    assert torch.equal(reference.nms(boxes.cuda(), scores.cuda(), 0.5).cpu(), keep)


def test_fit_trains_the_small_cnn_on_the_gpu():
    x, y = load_fashion_mnist("train", as_tensors=True)
    x_test, y_test = load_fashion_mnist("test", as_tensors=True)
    model = reference.small_cnn()
    history = fit(model, (x, y), epochs=2, device="cuda", progress=False, seed=0)
    assert history.device.startswith("cuda")
    assert next(model.parameters()).device.type == "cuda"
    _, accuracy = evaluate(model, (x_test, y_test), device="cuda")
    assert accuracy > 0.75, f"test accuracy after 2 epochs on the GPU: {accuracy:.1%}"


@pytest.mark.slow
@pytest.mark.parametrize("name", GPU_NOTEBOOKS)
def test_later_notebooks_run_in_their_gpu_configuration(name, gpu_kernel_manager):
    path = REPO / "notebooks" / f"{name}.ipynb"
    if not path.exists():
        pytest.skip(f"{path.name} is not in notebooks/ yet")
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        km=gpu_kernel_manager,
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # FAST = False on CUDA (see conftest.py); a failing cell is named
