"""course_utils.reference.detection against brute-force definitions, hand-computed cases and
torch.nn.functional (torchvision is not a dependency, so its box ops are re-derived here)."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils.reference import detection as ref

DOUBLE = torch.float64


def _boxes(rng: np.random.Generator, k: int) -> torch.Tensor:
    top_left = rng.uniform(0, 30, size=(k, 2))
    return torch.from_numpy(np.concatenate([top_left, top_left + rng.uniform(1, 15, (k, 2))], 1))


def _iou_by_counting(a, b, scale=4):
    """IoU of integer-cornered boxes by counting the cells of a fine grid they cover."""
    size = int(max(max(a), max(b))) * scale + 1
    grid = np.zeros((2, size, size), dtype=bool)
    for layer, (x1, y1, x2, y2) in enumerate((a, b)):
        grid[layer, int(y1 * scale) : int(y2 * scale), int(x1 * scale) : int(x2 * scale)] = True
    return (grid[0] & grid[1]).sum() / (grid[0] | grid[1]).sum()


def test_box_iou_matches_the_worked_example_one_seventh():
    iou = ref.box_iou(torch.tensor([[0.0, 0, 4, 4]]), torch.tensor([[2.0, 2, 6, 6]]))
    assert iou.item() == pytest.approx(1 / 7)


def test_box_iou_is_one_for_identical_and_zero_for_disjoint_or_touching_boxes():
    a = torch.tensor([[1.0, 2, 5, 7]])
    b = torch.tensor([[1.0, 2, 5, 7], [6, 8, 9, 9], [5, 2, 8, 7]])
    assert ref.box_iou(a, b).tolist() == [[1.0, 0.0, 0.0]]


def test_box_iou_equals_counting_covered_cells_for_integer_boxes():
    rng = np.random.default_rng(0)
    corners = rng.integers(0, 12, size=(8, 4))
    boxes = np.concatenate([corners[:, :2], corners[:, :2] + 1 + corners[:, 2:] % 6], 1)
    got = ref.box_iou(torch.tensor(boxes, dtype=DOUBLE), torch.tensor(boxes, dtype=DOUBLE))
    for i, j in itertools.product(range(8), range(8)):
        assert got[i, j].item() == pytest.approx(_iou_by_counting(boxes[i], boxes[j]))


def _nms_brute_force(boxes, scores, threshold):
    """The definition: visit boxes best first; keep one unless a kept box overlaps it > threshold."""
    kept = []
    for i in sorted(range(len(scores)), key=lambda k: -float(scores[k])):
        if all(ref.box_iou(boxes[i : i + 1], boxes[k : k + 1]).item() <= threshold for k in kept):
            kept.append(i)
    return kept


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.9])
def test_nms_matches_the_brute_force_definition(threshold):
    rng = np.random.default_rng(1)
    boxes = _boxes(rng, 25)
    scores = torch.from_numpy(rng.permutation(25) / 25.0)
    keep = ref.nms(boxes, scores, threshold)
    assert keep.dtype == torch.int64
    assert keep.tolist() == _nms_brute_force(boxes, scores, threshold)


def test_nms_keeps_a_box_whose_iou_equals_the_threshold():
    boxes = torch.tensor([[0.0, 0, 4, 4], [0, 0, 4, 2]])  # IoU exactly 0.5
    assert ref.nms(boxes, torch.tensor([0.9, 0.8]), 0.5).tolist() == [0, 1]
    assert ref.nms(boxes, torch.tensor([0.9, 0.8]), 0.49).tolist() == [0]


def test_batched_nms_never_suppresses_across_classes():
    rng = np.random.default_rng(2)
    boxes = _boxes(rng, 20)
    scores = torch.from_numpy(rng.permutation(20) / 20.0)
    labels = torch.from_numpy(rng.integers(0, 3, size=20))
    keep = ref.batched_nms(boxes, scores, labels, 0.3)
    expected = []
    for label in range(3):
        index = torch.nonzero(labels == label).flatten()
        expected += index[_nms_brute_force(boxes[index], scores[index], 0.3)].tolist()
    expected.sort(key=lambda k: -float(scores[k]))
    assert keep.tolist() == expected


def test_encode_boxes_matches_the_worked_example():
    target = ref.encode_boxes(
        torch.tensor([[4.0, 4, 28, 20]], dtype=DOUBLE), torch.tensor([2]), 4, 3, 64
    )
    assert target.shape == (8, 4, 4)
    expected = [0.0, 0.75, (24 / 64) ** 0.5, 0.5, 1.0, 0.0, 0.0, 1.0]
    assert target[:, 0, 1].tolist() == pytest.approx(expected)
    assert target.sum().item() == pytest.approx(sum(expected))


def test_encode_boxes_gives_a_shared_cell_to_the_first_box():
    boxes = torch.tensor([[2.0, 2, 12, 12], [4, 4, 14, 10]], dtype=DOUBLE)
    target = ref.encode_boxes(boxes, torch.tensor([0, 2]), 4, 3, 64)
    assert target[4].sum().item() == 1
    assert target[5:, 0, 0].tolist() == [1.0, 0.0, 0.0]


def test_decode_predictions_inverts_encode_boxes():
    boxes = torch.tensor([[4.0, 4, 28, 20], [40, 36, 60, 62]], dtype=DOUBLE)
    target = ref.encode_boxes(boxes, torch.tensor([2, 0]), 4, 3, 64)
    pred = target.clone()
    inner = target[:2].clamp(1e-6, 1 - 1e-6)
    pred[:2] = torch.log(inner / (1 - inner))  # the sigmoid's inverse
    pred[4] = torch.where(target[4] > 0, 20.0, -20.0)
    pred[5:] = target[5:] * 20
    decoded, scores, labels = ref.decode_predictions(pred[None], 64)[0]
    order = torch.argsort(decoded[:, 0])
    assert torch.allclose(decoded[order], boxes, atol=1e-4)
    assert labels[order].tolist() == [2, 0]


def test_yolo_loss_gradient_equals_autograd():
    rng = np.random.default_rng(3)
    targets = [
        ref.encode_boxes(_boxes(rng, 3) * 1.5, torch.from_numpy(rng.integers(0, 3, 3)), 4, 3, 64)
        for _ in range(2)
    ]
    pred = torch.from_numpy(rng.standard_normal((2, 8, 4, 4)) * 3).requires_grad_(True)
    loss, dpred = ref.yolo_loss(pred, torch.stack(targets), 3.0, 0.2)
    (grad,) = torch.autograd.grad(loss, pred)
    torch.testing.assert_close(dpred, grad, rtol=1e-10, atol=1e-12)


def test_yolo_loss_of_a_cell_without_object_is_its_weighted_bce():
    pred = torch.zeros(1, 6, 1, 1, dtype=DOUBLE)
    pred[0, 4] = 1.5
    loss, _ = ref.yolo_loss(pred, torch.zeros_like(pred), lambda_noobj=0.5)
    expected = 0.5 * F.binary_cross_entropy_with_logits(torch.tensor(1.5), torch.tensor(0.0))
    assert loss.item() == pytest.approx(expected.item())


@pytest.mark.parametrize(
    "stride, pad, kernel", [(1, 0, 3), (2, 1, 4), (3, 2, 5), (2, 0, 1), (1, 1, 3)]
)
def test_conv_transpose_forward_equals_torch_conv_transpose2d(stride, pad, kernel):
    gen = torch.Generator().manual_seed(stride * 10 + pad)
    x = torch.randn(2, 3, 4, 5, dtype=DOUBLE, generator=gen)
    w = torch.randn(3, 2, kernel, kernel, dtype=DOUBLE, generator=gen)
    b = torch.randn(2, dtype=DOUBLE, generator=gen)
    out, cache = ref.conv_transpose_forward(x, w, b, {"stride": stride, "pad": pad})
    assert out.shape[2] == 3 * stride - 2 * pad + kernel
    torch.testing.assert_close(out, F.conv_transpose2d(x, w, b, stride=stride, padding=pad))
    assert cache[0] is x


def test_conv_transpose_forward_matches_the_worked_example():
    x = torch.tensor([[[[1.0, 2], [3, 4]]]], dtype=DOUBLE)
    out, _ = ref.conv_transpose_forward(
        x,
        torch.ones(1, 1, 2, 2, dtype=DOUBLE),
        torch.zeros(1, dtype=DOUBLE),
        {"stride": 1, "pad": 0},
    )
    assert out[0, 0].tolist() == [[1, 3, 2], [4, 10, 6], [3, 7, 4]]


def test_conv_transpose_forward_refuses_padding_that_leaves_no_output():
    x = torch.zeros(1, 1, 1, 1)
    with pytest.raises(ValueError, match="Use less padding"):
        ref.conv_transpose_forward(
            x, torch.zeros(1, 1, 2, 2), torch.zeros(1), {"stride": 1, "pad": 1}
        )


def test_pixel_softmax_loss_equals_cross_entropy_and_its_gradient():
    gen = torch.Generator().manual_seed(4)
    scores = (torch.randn(2, 4, 3, 5, dtype=DOUBLE, generator=gen) * 50).requires_grad_(True)
    y = torch.randint(0, 4, (2, 3, 5), generator=gen)
    loss, dscores = ref.pixel_softmax_loss(scores.detach(), y)
    expected = F.cross_entropy(scores, y)
    (grad,) = torch.autograd.grad(expected, scores)
    torch.testing.assert_close(loss, expected.detach())
    torch.testing.assert_close(dscores, grad)


def test_twins_keep_float32():
    x = torch.randn(1, 2, 3, 3)
    out, _ = ref.conv_transpose_forward(
        x, torch.randn(2, 2, 2, 2), torch.zeros(2), {"stride": 2, "pad": 0}
    )
    loss, grad = ref.pixel_softmax_loss(
        torch.randn(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long)
    )
    assert out.dtype == loss.dtype == grad.dtype == torch.float32
    assert ref.box_iou(torch.rand(2, 4), torch.rand(3, 4)).dtype == torch.float32


@pytest.mark.cuda
def test_twins_run_on_cuda():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    boxes = torch.tensor([[0.0, 0, 4, 4], [1, 1, 5, 5]], device="cuda")
    assert ref.nms(boxes, torch.tensor([0.9, 0.8], device="cuda"), 0.3).device.type == "cuda"
    x = torch.randn(1, 2, 3, 3, device="cuda")
    out, _ = ref.conv_transpose_forward(
        x,
        torch.randn(2, 1, 2, 2, device="cuda"),
        torch.zeros(1, device="cuda"),
        {"stride": 2, "pad": 0},
    )
    assert out.device.type == "cuda"
