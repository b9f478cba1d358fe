"""check_three_layer_convnet passes the notebook's solution and CS231n's published model, and
fails every known mistake, naming it; here and through a kernel, as the sandbox grades."""

import numpy as np
import pytest

from autograder.checks import check_three_layer_convnet
from course_utils import reference
from tests import solutions_cs231n
from tests.check_harness import fails_each_mistake, passes_the_solution
from tests.wrong import convnet as wrong

test_check_passes_the_notebook_solution = passes_the_solution(
    "02_layers", {"check_three_layer_convnet": ("ThreeLayerConvNet",)}
)

test_check_fails_a_wrong_model_and_names_the_mistake = fails_each_mistake(
    [
        (check_three_layer_convnet, (model,), f"three_layer_convnet/{mistake}")
        for mistake, model in wrong.WRONG_MODELS.items()
    ]
)


@pytest.mark.parametrize("cases", ["public", "hidden"])
@pytest.mark.parametrize(
    "model",
    [wrong.CORRECT.ThreeLayerConvNet, solutions_cs231n.ThreeLayerConvNet],
    ids=["tests.wrong CORRECT", "CS231n's published style"],
)
def test_check_passes_right_models_including_cs231ns_as_published(model, cases, capsys):
    # CS231n's class has no seed, draws from np.random and answers in float64 for a float32
    # model: none of that costs a point.
    result = check_three_layer_convnet(model, cases=cases)
    assert result.passed == result.total > 0
    assert f"ThreeLayerConvNet: {result.total}/{result.total} {cases} cases pass" in (
        capsys.readouterr().out
    )


def test_hidden_cases_are_drawn_from_the_graders_seed(monkeypatch, capsys):
    from autograder.checks._engine import select_cases
    from autograder.checks.convnet import THREE_LAYER_CONVNET
    from autograder.course import HIDDEN_SEED_VARIABLE

    def draw():
        cases = select_cases("hidden", None, THREE_LAYER_CONVNET.hidden, "three_layer_convnet")
        return [c.args[0] for c in cases if c.args]

    monkeypatch.setenv(HIDDEN_SEED_VARIABLE, "7")
    first, again = draw(), draw()
    monkeypatch.setenv(HIDDEN_SEED_VARIABLE, "8")
    other = draw()
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])


# --- the constructor and the initialisation -----------------------------------------------------


class _NotCast(wrong.CORRECT.ThreeLayerConvNet):
    """Keeps float64 parameters whatever dtype asks."""

    def __init__(self, *args, dtype=np.float32, **kwargs):
        super().__init__(*args, dtype=np.float64, **kwargs)


class _Unscaled(wrong.CORRECT.ThreeLayerConvNet):
    """Draws the weights from N(0, 1): weight_scale ignored."""

    def __init__(self, *args, weight_scale=1e-3, **kwargs):
        super().__init__(*args, weight_scale=1.0, **kwargs)


class _NoPooling(wrong.CORRECT.ThreeLayerConvNet):
    """W2 sized for the unpooled maps (F*H*W rows)."""

    def __init__(self, input_dim=(3, 32, 32), num_filters=32, hidden_dim=100, **kwargs):
        super().__init__(input_dim, num_filters, hidden_dim=hidden_dim, **kwargs)
        C, H, W = input_dim
        self.params["W2"] = np.zeros((num_filters * H * W, hidden_dim), self.params["W2"].dtype)


class _BiasesOne(wrong.CORRECT.ThreeLayerConvNet):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params["b2"] = np.ones_like(self.params["b2"])


class _Stub:
    def __init__(
        self,
        input_dim=(3, 32, 32),
        num_filters=32,
        filter_size=7,
        hidden_dim=100,
        num_classes=10,
        weight_scale=1e-3,
        reg=0.0,
        dtype=np.float32,
    ):
        self.params = {}
        raise NotImplementedError()


class _ListScores(wrong.CORRECT.ThreeLayerConvNet):
    def loss(self, X, y=None):
        out = super().loss(X, y)
        return out.tolist() if y is None else out


test_check_explains_what_is_wrong_with_the_model = fails_each_mistake(
    [
        (check_three_layer_convnet, (_NotCast,), r"\['W1'\] is float64, expected float32"),
        (check_three_layer_convnet, (_Unscaled,), r"standard deviation 0\.02 \(weight_scale"),
        (check_three_layer_convnet, (_NoPooling,), r"\['W2'\] has shape \(12544, 64\)"),
        (check_three_layer_convnet, (_BiasesOne,), r"\['b2'\] must start at zero"),
        (check_three_layer_convnet, (_Stub,), "not written yet"),
        (
            check_three_layer_convnet,
            (_ListScores,),
            r"scores must be a numpy\.ndarray of real numbers; it is a list",
        ),
    ]
)


def test_a_model_built_on_the_courses_reference_earns_no_credit():
    class Subclassed(reference.ThreeLayerConvNet):
        pass

    class UsesTheTwin(wrong.CORRECT.ThreeLayerConvNet):
        def loss(self, X, y=None):
            reference.conv_forward_fast  # noqa: B018 (a use is enough to be refused)
            return super().loss(X, y)

    for model in (reference.ThreeLayerConvNet, Subclassed, UsesTheTwin):
        with pytest.raises(AssertionError, match="This is a NumPy exercise"):
            check_three_layer_convnet(model)


# --- through a kernel: the class is a proxy, the measurement runs in the kernel ---------------


@pytest.mark.slow
def test_through_a_kernel_the_model_check_passes_the_solutions_and_names_each_mistake(tmp_path):
    from tests.kernel_grading import expect_mistake, failing_tests, module_body, solutions_source

    imports = "import types\n\nimport numpy as np\n"
    tests = [
        "from autograder.checks import check_three_layer_convnet\n"
        "check_three_layer_convnet(ThreeLayerConvNet)\n"
        "check_three_layer_convnet(ThreeLayerConvNet, cases='hidden')\n",
        "from autograder.checks import check_three_layer_convnet\n"
        "check_three_layer_convnet(CS231nThreeLayerConvNet)\n",
    ]
    tests += [
        expect_mistake(
            "check_three_layer_convnet", f"ThreeLayerConvNet_{m}", rf"\[three_layer_convnet/{m}\]"
        )
        for m in wrong.MODEL_MISTAKES
    ]
    cs231n = module_body(solutions_cs231n).replace(
        "class ThreeLayerConvNet:", "class CS231nThreeLayerConvNet:"
    )
    student = "\n\n".join(
        [
            solutions_source("02_layers"),
            module_body(wrong).replace("from __future__ import annotations", ""),
            cs231n.replace("from __future__ import annotations", ""),
        ]
    )
    assert failing_tests(tmp_path, imports, student, tests) == []
