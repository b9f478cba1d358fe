"""course_utils.shapes: exact ground truth, determinism, and speed-independent sanity."""

import numpy as np
import pytest

from course_utils.shapes import CLASS_NAMES, make_shapes


@pytest.fixture(scope="module")
def data():
    return make_shapes(60, seed=5)


def test_arrays_have_the_documented_shapes_and_types(data):
    assert data.images.shape == (60, 3, 64, 64) and data.images.dtype == np.float32
    assert data.masks.shape == (60, 64, 64) and data.masks.dtype == np.int64
    assert 0 <= data.images.min() and data.images.max() <= 1
    assert all(b.shape == (len(l), 4) for b, l in zip(data.boxes, data.labels))


def test_every_box_is_the_tight_box_of_its_mask_pixels(data):
    for mask, boxes, labels in zip(data.masks, data.boxes, data.labels):
        assert 1 <= len(boxes) <= 3
        for (x1, y1, x2, y2), label in zip(boxes.astype(int), labels):
            region = mask[y1:y2, x1:x2] == 1 + label
            assert (
                region[0].any() and region[-1].any() and region[:, 0].any() and region[:, -1].any()
            )
            assert (mask == 1 + label)[y1:y2, x1:x2].sum() == region.sum()


def test_mask_pixels_lie_inside_the_boxes_of_their_class(data):
    for mask, boxes, labels in zip(data.masks, data.boxes, data.labels):
        covered = np.zeros_like(mask)
        for (x1, y1, x2, y2), label in zip(boxes.astype(int), labels):
            covered[y1:y2, x1:x2] = 1 + label
        assert np.all((mask == 0) | (mask == covered))


def test_all_three_classes_appear():
    labels = np.concatenate(make_shapes(100, seed=1).labels)
    assert set(labels.tolist()) == set(range(len(CLASS_NAMES)))


def test_the_same_seed_gives_the_same_images_and_another_seed_does_not():
    a, b, c = make_shapes(5, seed=3), make_shapes(5, seed=3), make_shapes(5, seed=4)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.masks, b.masks)
    assert not np.array_equal(a.images, c.images)


def test_a_bad_size_is_refused_with_the_numbers():
    with pytest.raises(ValueError, match="image_size=32"):
        make_shapes(2, image_size=32, max_size=24)
