"""Checks for notebook 06, data augmentation and transfer learning.

The augmentation functions are NumPy exercises on one image (C, H, W). Deterministic ones
(``translate``, ``bilinear_sample``, ``rotate_scale``, ``adjust_intensity``) are compared with
their twins in ``course_utils.augment`` (which sample with ``torch.nn.functional.grid_sample``).
Random ones are judged by what must hold whatever the random numbers: ``random_flip`` returns
the image or its mirror, both about half of the time, and the same seed gives the same
decisions; ``elastic_field`` has the right shape, is reproducible, proportional to ``alpha``,
smooth, and as strong as the twin's field on average.

The transfer-learning exercises take an EfficientNet (attributes ``_conv_stem``, ``_bn0``,
``_blocks``, ``_conv_head``, ``_bn1``, ``_fc``). The checks run them on small stand-ins with
that layout (built fresh for every case, so nothing needs the pretrained weights) and, when
the package ``efficientnet-lite-pytorch`` is installed, on the EfficientNet-Lite0 architecture.

A NumPy generator or a model cannot be handed to a student's function that runs in another
process (``cnn-course autograde --isolation sandbox``), so the random functions and the
transfer-learning functions are measured where the student's code runs (``autograder.measure``):
the generators are made there from seeds, the models from specs (``build_spec``), and what
comes back is plain data (the outputs; what the function did to the model, by parameter name).
The expected values and the verdicts are computed here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from autograder.checks import _legacy_rules as _rules
from autograder.checks._compare import (
    Case,
    CaseFailure,
    CheckResult,
    Mistake,
    NotApplicable,
    as_float64_array,
    call_student,
    check_inputs_unchanged,
    compare_arrays,
    diagnose,
    raised,
    run_check,
    select_cases,
    tolerance_for,
)
from autograder.checks._engine import check
from autograder.checks._legacy_rules import measure
from autograder.kernel.measure import build_spec
from course_utils import augment as reference

__all__ = [
    "check_random_flip",
    "check_translate",
    "check_bilinear_sample",
    "check_rotate_scale",
    "check_elastic_field",
    "check_adjust_intensity",
    "check_replace_head",
    "check_set_trainable",
    "check_param_groups",
]


# --- shared helpers ------------------------------------------------------------------------------


def _tensor(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value, dtype=np.float64, copy=True))
    return value


def _twin(twin: Callable, *args: Any) -> np.ndarray:
    """Call a reference twin on NumPy arguments; the tensor comes back as a float64 ndarray."""
    return twin(*(_tensor(a) for a in args)).detach().cpu().numpy().astype(np.float64)


def _guarded(name: str, impl: Callable, run: Callable[[Callable], CheckResult]) -> CheckResult:
    """Refuse banned libraries (torch, course_utils, scipy, ...), then run on a guarded version."""
    _rules.refuse_banned(name, impl)
    try:
        return run(_rules.guard(impl, name))
    except _rules.BannedCall as banned:
        raise AssertionError(str(banned)) from None


def _measured(name: str, case_name: str, what: str, impl: Callable, *args: Any) -> dict:
    """The report of the measurement ``what`` of the student's ``impl`` (where the student's
    code runs, see ``autograder.measure``); what the student's code says on the side (warnings,
    stderr) becomes a note, as with ``call_student``."""
    return call_student(lambda: measure(what, impl, *args), Case(case_name), name).value


def _guarded_measurements(
    name: str, impl: Callable, run: Callable[[Callable[..., dict]], CheckResult]
) -> CheckResult:
    """``_guarded`` for a check that measures: refuse banned libraries, then ``run(measured)``
    where ``measured(case_name, what, *args)`` is the report of the measurement ``what`` of
    ``impl``, with the guard around every call of ``impl`` (in the student's kernel when
    ``impl`` is a proxy of a function there)."""
    _rules.refuse_banned(name, impl)
    guarded = _rules.guard(impl, name)

    def measured(case_name: str, what: str, *args: Any) -> dict:
        return _measured(name, case_name, what, guarded, *args)

    try:
        return run(measured)
    except _rules.BannedCall as banned:
        raise AssertionError(str(banned)) from None


def _odd_failure(odd: dict, name: str, what: str) -> CaseFailure:
    """The diagnosis of an answer that is not a real ndarray, in the words of
    ``as_float64_array`` (``odd`` as ``autograder.measure`` reports it)."""
    if "dtype" in odd and "shape" not in odd:
        return CaseFailure(f"{what} must hold real numbers; its dtype is {odd['dtype']}.")
    extra = ""
    if odd["type"].startswith("torch."):
        extra = " Convert with .detach().cpu().numpy(), or better, use NumPy throughout."
    return CaseFailure(
        f"{name} must return {what} as a numpy.ndarray; it returned {odd['answer']}.{extra}"
    )


def _display_name(impl: Callable, default: str) -> str:
    name = getattr(impl, "__name__", "")
    return name if name.isidentifier() else default


def _compare(
    got: np.ndarray, expected: np.ndarray, what: str, mistakes: Sequence[Mistake], case: Case
) -> float:
    """compare_arrays, with the hint of a mistake whose prediction equals ``got``."""
    try:
        return compare_arrays(got, expected, what=what, tol=tolerance_for(got))
    except CaseFailure as failure:
        hint = diagnose(mistakes, case, got, lambda v: np.asarray(v, dtype=np.float64))
        raise CaseFailure(f"{failure}\n  Hint: {hint}" if hint else str(failure)) from None


def _image(rng: np.random.Generator, c: int, h: int, w: int) -> np.ndarray:
    return rng.random((c, h, w))


def _deterministic_check(
    name: str,
    impl: Callable,
    cases: str,
    twin: Callable,
    public: Callable[[], list[Case]],
    hidden: Callable[[np.random.Generator], list[Case]],
    mistakes: list[Mistake],
    arg_names: tuple[str, ...],
) -> CheckResult:
    def run(guarded: Callable) -> CheckResult:
        def evaluate(case: Case) -> float:
            check_inputs_unchanged(case, guarded, name, arg_names)
            got = as_float64_array(call_student(guarded, case, name).value, name, "out")
            expected = _twin(twin, *case.fresh()[0])
            return _compare(got, expected, "out", mistakes, case)

        chosen = select_cases(cases, public, hidden, name)
        return run_check(name, chosen, evaluate, kind=cases, arg_names=arg_names)

    return _guarded(name, impl, run)


# --- random_flip -----------------------------------------------------------------------------------

FLIP_DRAWS = 400  # flips drawn per case; a fair coin gives 160..240 heads with p > 0.9999


def _flip_cases() -> list[Case]:
    rng = np.random.default_rng(601)
    return [
        Case("RGB image 3x6x8, seed 0", (_image(rng, 3, 6, 8), 0)),
        Case("grey image 1x5x5, seed 42", (_image(rng, 1, 5, 5), 42)),
    ]


def _hidden_flip_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case(
            f"hidden {i + 1}",
            (
                _image(rng, int(rng.integers(1, 4)), *(int(v) for v in rng.integers(2, 12, 2))),
                int(rng.integers(0, 2**31)),
            ),
        )
        for i in range(3)
    ]


@check
def check_random_flip(random_flip: Callable, cases: str = "public") -> CheckResult:
    """Check ``random_flip(x, rng)``: x (C, H, W) or its left-right mirror, each half the time,
    reproducible with the same seed."""
    name = _display_name(random_flip, "random_flip")

    def run(measured: Callable[..., dict]) -> CheckResult:
        def evaluate(case: Case) -> None:
            x, seed = case.fresh()[0]
            mirror = x[:, :, ::-1]
            report = measured(case.name, "calls_with_one_generator", [x], seed, FLIP_DRAWS)
            draws = []
            for out in report["outputs"]:
                if out.shape != x.shape:
                    raise CaseFailure(f"out has shape {out.shape}, expected {x.shape} (C, H, W).")
                if np.array_equal(out, x):
                    draws.append(False)
                elif np.array_equal(out, mirror):
                    draws.append(True)
                elif np.array_equal(out, x[:, ::-1, :]):
                    raise CaseFailure(
                        "out is the image upside down.\n  Hint: you flipped the rows (axis 1, "
                        "vertical flip). A mirror image reverses the columns: x[:, :, ::-1]. "
                        "Upside-down clothes and cats are rare; mirrored ones are common."
                    )
                else:
                    raise CaseFailure(
                        "out is neither x nor its mirror x[:, :, ::-1]; random_flip must not "
                        "change any pixel value."
                    )
            if "error" in report:
                raise raised(report["error"], name)
            if "odd" in report:
                odd = report["odd"]
                if "shape" in odd:
                    raise CaseFailure(
                        f"out has shape {tuple(odd['shape'])}, expected {x.shape} (C, H, W)."
                    )
                raise _odd_failure(odd, name, "out")
            flips = sum(draws)
            if flips == 0 or flips == FLIP_DRAWS:
                verb = "never" if flips == 0 else "always"
                raise CaseFailure(
                    f"in {FLIP_DRAWS} calls with one generator your function {verb} flipped.\n"
                    "  Hint: flip when rng.random() < 0.5, drawing a new number at every call "
                    "(not once, outside the function)."
                )
            if not 0.4 * FLIP_DRAWS <= flips <= 0.6 * FLIP_DRAWS:
                raise CaseFailure(
                    f"in {FLIP_DRAWS} calls your function flipped {flips} times; a probability "
                    f"of 1/2 gives between {int(0.4 * FLIP_DRAWS)} and {int(0.6 * FLIP_DRAWS)}."
                )
            repeat = measured(case.name, "calls_with_one_generator", [x], seed, 50)
            if "error" in repeat:
                raise raised(repeat["error"], name)
            again = [
                bool(out.shape == mirror.shape and np.array_equal(out, mirror))
                for out in repeat["outputs"]
            ]
            if again != draws[:50]:
                raise CaseFailure(
                    "the same seed gave different flips.\n  Hint: draw from the rng you are "
                    "given (rng.random()), not from np.random or the random module, so that "
                    "an experiment can be repeated exactly."
                )
            return None

        chosen = select_cases(cases, _flip_cases, _hidden_flip_cases, name)
        return run_check(name, chosen, evaluate, kind=cases, arg_names=("x", "seed"))

    return _guarded_measurements(name, random_flip, run)


# --- translate -----------------------------------------------------------------------------------


def _translate_cases() -> list[Case]:
    rng = np.random.default_rng(602)
    x = _image(rng, 2, 6, 7)
    return [
        Case("down 2, right 3", (x, 2, 3)),
        Case("up 1, right 4", (x, -1, 4)),
        Case("left 5 only", (x, 0, -5)),
        Case("no shift", (x, 0, 0)),
        Case("a shift larger than the image (only zeros)", (x, 6, 0)),
        Case("RGB 3x5x9, up 2, left 1", (_image(rng, 3, 5, 9), -2, -1)),
    ]


def _hidden_translate_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(6):
        c, h, w = int(rng.integers(1, 4)), int(rng.integers(3, 12)), int(rng.integers(3, 12))
        dy, dx = int(rng.integers(-h + 1, h)), int(rng.integers(-w + 1, w))
        cases.append(Case(f"hidden {i + 1}: shift ({dy}, {dx})", (_image(rng, c, h, w), dy, dx)))
    return cases


def _translate_rolled(x, dy, dx):
    if dy == 0 and dx == 0:
        raise NotApplicable
    return np.roll(x, (dy, dx), axis=(1, 2))


def _translate_swapped(x, dy, dx):
    if dy == dx or abs(dx) >= x.shape[1] or abs(dy) >= x.shape[2]:
        raise NotApplicable
    return _twin(reference.translate, x, dx, dy)


def _translate_reversed(x, dy, dx):
    if dy == 0 and dx == 0:
        raise NotApplicable
    return _twin(reference.translate, x, -dy, -dx)


_TRANSLATE_MISTAKES = [
    Mistake(
        "your output wraps around: what leaves on one side comes back on the other (np.roll). "
        "A camera that moves sees new, unknown pixels at the border: fill them with zeros.",
        _translate_rolled,
    ),
    Mistake(
        "you swapped dy and dx: dy counts rows (axis 1), dx columns (axis 2).", _translate_swapped
    ),
    Mistake(
        "you moved the content the other way: out[c, i, j] = x[c, i - dy, j - dx], so a positive "
        "dy moves the content DOWN.",
        _translate_reversed,
    ),
]


@check
def check_translate(translate: Callable, cases: str = "public") -> CheckResult:
    """Check ``translate(x, dy, dx)``: content moved down dy and right dx, zeros coming in."""
    return _deterministic_check(
        _display_name(translate, "translate"),
        translate,
        cases,
        reference.translate,
        _translate_cases,
        _hidden_translate_cases,
        _TRANSLATE_MISTAKES,
        ("x", "dy", "dx"),
    )


# --- bilinear_sample -----------------------------------------------------------------------------


def _bilinear_cases() -> list[Case]:
    rng = np.random.default_rng(603)
    x = np.arange(12.0).reshape(1, 3, 4)  # x[0, r, c] = 4r + c
    ys_grid, xs_grid = np.meshgrid(np.arange(3.0), np.arange(4.0), indexing="ij")
    return [
        Case("integer positions give the pixels back", (x, ys_grid, xs_grid)),
        Case(
            "half-way points: 4r + c is linear, so bilinear is exact",
            (x, np.array([[0.5, 1.5, 0.25]]), np.array([[0.5, 2.5, 1.75]])),
        ),
        Case(
            "points near and beyond the border (pixels outside count as 0)",
            (x, np.array([[-0.5, 2.5, 1.0, -3.0]]), np.array([[1.0, 3.0, 3.5, 0.0]])),
        ),
        Case(
            "RGB 3x5x6 read at 4x7 random points",
            (_image(rng, 3, 5, 6), rng.uniform(-1, 5, (4, 7)), rng.uniform(-1, 6, (4, 7))),
        ),
    ]


def _hidden_bilinear_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(5):
        c, h, w = int(rng.integers(1, 4)), int(rng.integers(2, 10)), int(rng.integers(2, 10))
        ho, wo = int(rng.integers(1, 8)), int(rng.integers(1, 8))
        ys = rng.uniform(-1.5, h + 0.5, (ho, wo))
        xs = rng.uniform(-1.5, w + 0.5, (ho, wo))
        cases.append(Case(f"hidden {i + 1}", (_image(rng, c, h, w), ys, xs)))
    return cases


def _bilinear_swapped(x, ys, xs):
    if np.allclose(ys, xs):
        raise NotApplicable
    return _twin(reference.bilinear_sample, x, xs, ys)


def _bilinear_nearest(x, ys, xs):
    if np.allclose(ys, np.round(ys)) and np.allclose(xs, np.round(xs)):
        raise NotApplicable
    return _twin(reference.bilinear_sample, x, np.round(ys), np.round(xs))


def _bilinear_floor(x, ys, xs):
    if np.allclose(ys, np.floor(ys)) and np.allclose(xs, np.floor(xs)):
        raise NotApplicable
    return _twin(reference.bilinear_sample, x, np.floor(ys), np.floor(xs))


def _bilinear_border(x, ys, xs):
    h, w = x.shape[1:]
    if np.all((ys >= 0) & (ys <= h - 1) & (xs >= 0) & (xs <= w - 1)):
        raise NotApplicable
    return _twin(reference.bilinear_sample, x, np.clip(ys, 0, h - 1), np.clip(xs, 0, w - 1))


_BILINEAR_MISTAKES = [
    Mistake(
        "you swapped ys and xs: ys are rows (axis 1 of x), xs columns (axis 2).", _bilinear_swapped
    ),
    Mistake(
        "you took the nearest pixel (rounding). Bilinear interpolation blends the four "
        "surrounding pixels with the weights (1 - wy)(1 - wx), (1 - wy) wx, wy (1 - wx), wy wx.",
        _bilinear_nearest,
    ),
    Mistake(
        "you read only the top-left pixel x[c, floor(y), floor(x)]: blend it with its three "
        "neighbours, weighted by how close the point is to each.",
        _bilinear_floor,
    ),
    Mistake(
        "you clamped the positions to the image, which repeats the border pixels; here a pixel "
        "outside the image counts as 0 (a neighbour that does not exist contributes nothing).",
        _bilinear_border,
    ),
]


@check
def check_bilinear_sample(bilinear_sample: Callable, cases: str = "public") -> CheckResult:
    """Check ``bilinear_sample(x, ys, xs) -> (C, H_out, W_out)`` against ``grid_sample``."""
    return _deterministic_check(
        _display_name(bilinear_sample, "bilinear_sample"),
        bilinear_sample,
        cases,
        reference.bilinear_sample,
        _bilinear_cases,
        _hidden_bilinear_cases,
        _BILINEAR_MISTAKES,
        ("x", "ys", "xs"),
    )


# --- rotate_scale --------------------------------------------------------------------------------


def _rotate_cases() -> list[Case]:
    rng = np.random.default_rng(604)
    x = _image(rng, 3, 7, 7)
    return [
        Case("90 degrees, scale 1", (x, 90.0, 1.0)),
        Case("30 degrees, scale 1", (x, 30.0, 1.0)),
        Case("no rotation, scale 2 (zoom in)", (x, 0.0, 2.0)),
        Case("-20 degrees, scale 0.8, non-square 2x6x9", (_image(rng, 2, 6, 9), -20.0, 0.8)),
    ]


def _hidden_rotate_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(4):
        c, h, w = int(rng.integers(1, 4)), int(rng.integers(3, 12)), int(rng.integers(3, 12))
        degrees, scale = float(rng.uniform(-180, 180)), float(rng.uniform(0.5, 2.0))
        cases.append(
            Case(
                f"hidden {i + 1}: {degrees:.1f} degrees, scale {scale:.2f}",
                (_image(rng, c, h, w), degrees, scale),
            )
        )
    return cases


def _rotate_clockwise(x, degrees, scale=1.0):
    if degrees % 180 == 0:
        raise NotApplicable
    return _twin(reference.rotate_scale, x, -degrees, scale)


def _rotate_scale_inverted(x, degrees, scale=1.0):
    if scale == 1:
        raise NotApplicable
    return _twin(reference.rotate_scale, x, degrees, 1 / scale)


def _rotate_about_corner(x, degrees, scale=1.0):
    h, w = x.shape[1:]
    v, u = np.meshgrid(np.arange(h, dtype=float), np.arange(w, dtype=float), indexing="ij")
    t = np.deg2rad(degrees)
    xs = (np.cos(t) * u - np.sin(t) * v) / scale
    ys = (np.sin(t) * u + np.cos(t) * v) / scale
    return _twin(reference.bilinear_sample, x, ys, xs)


def _rotate_radians(x, degrees, scale=1.0):
    if degrees == 0:
        raise NotApplicable
    return _twin(reference.rotate_scale, x, float(np.rad2deg(degrees)), scale)


_ROTATE_MISTAKES = [
    Mistake(
        "your image turns clockwise. Rows grow downwards, so with v down and u right the input "
        "is read at xs = cx + (cos t u - sin t v) / scale, ys = cy + (sin t u + cos t v) / scale.",
        _rotate_clockwise,
    ),
    Mistake(
        "you multiplied by scale where the formula divides: we work backwards from the output, "
        "so to show the image twice as large each output pixel reads half as far from the centre.",
        _rotate_scale_inverted,
    ),
    Mistake(
        "you rotated about the top-left corner (0, 0): subtract the centre ((H - 1) / 2, "
        "(W - 1) / 2) before rotating and add it back after.",
        _rotate_about_corner,
    ),
    Mistake(
        "you passed degrees to np.cos and np.sin, which expect radians: use np.deg2rad(degrees).",
        _rotate_radians,
    ),
]


@check
def check_rotate_scale(rotate_scale: Callable, cases: str = "public") -> CheckResult:
    """Check ``rotate_scale(x, degrees, scale=1.0)``: counter-clockwise about the centre."""
    return _deterministic_check(
        _display_name(rotate_scale, "rotate_scale"),
        rotate_scale,
        cases,
        reference.rotate_scale,
        _rotate_cases,
        _hidden_rotate_cases,
        _ROTATE_MISTAKES,
        ("x", "degrees", "scale"),
    )


# --- elastic_field -------------------------------------------------------------------------------

#: The field's strength (its standard deviation, averaged over seeds) must be within this
#: factor of the reference's: the seeds differ, the smoothing and the scale must not.
ELASTIC_STRENGTH_FACTOR = 1.5
#: A field smoothed with sigma >= 2 has a lag-1 correlation above this; raw noise has ~0.
ELASTIC_MIN_CORRELATION = 0.6
ELASTIC_SEEDS = 4


def _elastic_cases() -> list[Case]:
    return [
        Case("32x32, alpha 8, sigma 4", ((32, 32), 8.0, 4.0)),
        Case("20x28 (not square), alpha 3, sigma 2", ((20, 28), 3.0, 2.0)),
    ]


def _hidden_elastic_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case(
            f"hidden {i + 1}",
            (
                (int(rng.integers(16, 40)), int(rng.integers(16, 40))),
                float(rng.uniform(1, 20)),
                float(rng.uniform(2, 5)),
            ),
        )
        for i in range(3)
    ]


def _lag_correlation(field: np.ndarray) -> float:
    """Mean correlation between horizontally and vertically neighbouring displacements."""
    pairs = [
        (field[:, :, :-1].ravel(), field[:, :, 1:].ravel()),
        (field[:, :-1, :].ravel(), field[:, 1:, :].ravel()),
    ]
    return float(np.mean([np.corrcoef(a, b)[0, 1] for a, b in pairs]))


@check
def check_elastic_field(elastic_field: Callable, cases: str = "public") -> CheckResult:
    """Check ``elastic_field(shape, alpha, sigma, rng) -> (2, H, W)``: shape, reproducibility,
    proportional to alpha, smooth, and as strong as the reference field on average."""
    name = _display_name(elastic_field, "elastic_field")

    def run(measured: Callable[..., dict]) -> CheckResult:
        def evaluate(case: Case) -> None:
            shape, alpha, sigma = case.fresh()[0]
            # The calls, in the order they are judged: seed 0 twice (reproducible?), 2 alpha
            # with seed 0 (proportional?), then seeds 0, 1, ... (strength on average).
            calls = [
                [[shape, alpha, sigma], 0],
                [[shape, alpha, sigma], 0],
                [[shape, 2 * alpha, sigma], 0],
            ] + [[[shape, alpha, sigma], s] for s in range(ELASTIC_SEEDS)]
            report = measured(case.name, "calls_with_fresh_generators", calls)
            outputs = list(report["outputs"])

            def field(index: int) -> np.ndarray:
                if index < len(outputs):
                    return outputs[index]
                if "error" in report:
                    raise raised(report["error"], name)
                raise _odd_failure(report["odd"], name, "field")

            first = field(0)
            if first.shape != (2, *shape):
                raise CaseFailure(
                    f"field has shape {first.shape}, expected {(2, *shape)}: (dy, dx) for every "
                    "pixel."
                )
            if not np.all(np.isfinite(first)):
                raise CaseFailure("field holds non-finite values (nan or inf).")
            if not np.array_equal(first, field(1)):
                raise CaseFailure(
                    "the same seed gave a different field.\n  Hint: draw from the rng you are "
                    "given (rng.uniform), not from np.random, so the deformation can be repeated."
                )
            double = field(2)
            if not np.allclose(double, 2 * first, rtol=1e-6, atol=1e-9):
                raise CaseFailure(
                    "doubling alpha did not double the field (same seed): the field must be "
                    "alpha times the smoothed noise."
                )
            correlation = _lag_correlation(first)
            if correlation < ELASTIC_MIN_CORRELATION:
                raise CaseFailure(
                    f"neighbouring displacements are barely related (correlation "
                    f"{correlation:.2f}; a field smoothed with sigma = {sigma:g} has more than "
                    f"{ELASTIC_MIN_CORRELATION}).\n  Hint: smooth the noise with the Gaussian "
                    "kernel along the rows and along the columns; raw noise tears the image "
                    "apart instead of bending it."
                )
            got = np.mean([field(3 + s).std() for s in range(ELASTIC_SEEDS)])
            expected = np.mean(
                [
                    reference.elastic_field(shape, alpha, sigma, np.random.default_rng(s))
                    .std()
                    .item()
                    for s in range(ELASTIC_SEEDS)
                ]
            )
            if not expected / ELASTIC_STRENGTH_FACTOR <= got <= expected * ELASTIC_STRENGTH_FACTOR:
                hint = ""
                if got > expected * 3:
                    hint = (
                        "\n  Hint: divide the Gaussian kernel by its sum, so that smoothing "
                        "averages the noise instead of adding it up."
                    )
                raise CaseFailure(
                    f"the field is {'too strong' if got > expected else 'too weak'}: its standard "
                    f"deviation is {got:.3g} pixels on average, expected about {expected:.3g} "
                    f"(within a factor {ELASTIC_STRENGTH_FACTOR}). Draw the noise with "
                    f"rng.uniform(-1, 1), use a normalised kernel of radius ceil(3 sigma), "
                    f"then multiply by alpha.{hint}"
                )
            return None

        chosen = select_cases(cases, _elastic_cases, _hidden_elastic_cases, name)
        return run_check(name, chosen, evaluate, kind=cases, arg_names=("shape", "alpha", "sigma"))

    return _guarded_measurements(name, elastic_field, run)


# --- adjust_intensity ----------------------------------------------------------------------------


def _intensity_cases() -> list[Case]:
    rng = np.random.default_rng(606)
    x = 0.2 + 0.6 * _image(rng, 3, 5, 6)
    return [
        Case("contrast 1.5, brightness 0", (x, 1.5, 0.0)),
        Case("contrast 0.5, brightness 0.1", (x, 0.5, 0.1)),
        Case("contrast 1, brightness -0.3", (x, 1.0, -0.3)),
        Case("strong contrast 3 (clipped at 0 and 1)", (x, 3.0, 0.05)),
        Case("grey image 1x4x4, contrast 2, brightness 0.2", (_image(rng, 1, 4, 4), 2.0, 0.2)),
    ]


def _hidden_intensity_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(5):
        c, h, w = int(rng.integers(1, 4)), int(rng.integers(2, 9)), int(rng.integers(2, 9))
        contrast, brightness = float(rng.uniform(0, 3)), float(rng.uniform(-0.4, 0.4))
        cases.append(Case(f"hidden {i + 1}", (_image(rng, c, h, w), contrast, brightness)))
    return cases


def _intensity_about_zero(x, contrast, brightness):
    if contrast == 1:
        raise NotApplicable
    return np.clip(x * contrast + brightness, 0, 1)


def _intensity_unclipped(x, contrast, brightness):
    out = (x - x.mean()) * contrast + x.mean() + brightness
    if np.all((out >= 0) & (out <= 1)):
        raise NotApplicable
    return out


def _intensity_channel_mean(x, contrast, brightness):
    if x.shape[0] == 1 or contrast == 1:
        raise NotApplicable
    m = x.mean(axis=(1, 2), keepdims=True)
    return np.clip((x - m) * contrast + m + brightness, 0, 1)


_INTENSITY_MISTAKES = [
    Mistake(
        "you scaled the pixel values about 0 (x * contrast), which also darkens or brightens "
        "the image. Contrast stretches about the mean: (x - m) * contrast + m.",
        _intensity_about_zero,
    ),
    Mistake(
        "some values are outside [0, 1]: clip the result (np.clip(..., 0, 1)).",
        _intensity_unclipped,
    ),
    Mistake(
        "you used one mean per channel, which changes the colours; m is the mean of the whole "
        "image, one number (x.mean()).",
        _intensity_channel_mean,
    ),
]


@check
def check_adjust_intensity(adjust_intensity: Callable, cases: str = "public") -> CheckResult:
    """Check ``adjust_intensity(x, contrast, brightness)``: about the mean, then clipped."""
    return _deterministic_check(
        _display_name(adjust_intensity, "adjust_intensity"),
        adjust_intensity,
        cases,
        reference.adjust_intensity,
        _intensity_cases,
        _hidden_intensity_cases,
        _INTENSITY_MISTAKES,
        ("x", "contrast", "brightness"),
    )


# --- transfer learning: models with the EfficientNet layout --------------------------------------


def _lite0_available() -> bool:
    try:
        import efficientnet_lite_pytorch  # noqa: F401
    except ImportError:
        return False
    return True


def _describe_spec(spec: tuple) -> str:
    if spec[0] == "lite0":
        return "EfficientNet-Lite0 (16 blocks, head 1280)"
    return f"a small EfficientNet-like model ({spec[1]} blocks, head {spec[3]})"


def _model_specs(rng: np.random.Generator | None) -> list[tuple]:
    if rng is None:
        specs = [("small", 4, 8, 16, 1000), ("small", 7, 4, 12, 5)]
        if _lite0_available():
            specs.append(("lite0", 1000))
        return specs
    return [
        ("small", int(rng.integers(1, 9)), int(rng.integers(2, 9)), int(rng.integers(4, 20)), 1000)
        for _ in range(3)
    ]


def _returned_model(report: dict, name: str) -> None:
    """Fail unless the student's function (measured by ``autograder.measure``) returned an
    nn.Module; a report with an error fails with the error."""
    if "error" in report:
        raise raised(report["error"], name)
    if report["returned"] == "none":
        raise CaseFailure(f"{name} returned None; return the model (`return model`).")
    if report["returned"] == "other":
        raise CaseFailure(f"{name} must return the model; it returned {report['answer']}.")


# --- replace_head --------------------------------------------------------------------------------


def _head_cases() -> list[Case]:
    return [
        Case(f"{_describe_spec(spec)}, {k} classes", (spec, k))
        for spec, k in zip(_model_specs(None), (10, 3, 10))
    ]


def _hidden_head_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case(f"hidden {i + 1}: {_describe_spec(spec)}", (spec, int(rng.integers(2, 50))))
        for i, spec in enumerate(_model_specs(rng))
    ]


@check
def check_replace_head(replace_head: Callable, cases: str = "public") -> CheckResult:
    """Check ``replace_head(model, num_classes)``: a new nn.Linear(in_features, num_classes) as
    ``model._fc``, trainable, every other parameter untouched."""
    name = _display_name(replace_head, "replace_head")

    def evaluate(case: Case) -> None:
        spec, num_classes = case.args
        in_features = build_spec(spec)._fc.in_features
        report = _measured(
            name, case.name, "head_replacement", replace_head, list(spec), num_classes
        )
        _returned_model(report, name)
        head = report["head"]
        if not head["linear"]:
            raise CaseFailure(
                f"model._fc is {head['answer']}, expected an nn.Linear. Assign the new "
                "layer to model._fc: the network's forward calls self._fc."
            )
        if head["old"]:
            raise CaseFailure(
                "model._fc is still the ImageNet classifier: create a NEW nn.Linear and assign "
                "it to model._fc."
            )
        if head["in_features"] != in_features:
            raise CaseFailure(
                f"the new head takes {head['in_features']} inputs, but the features that reach "
                f"it have {in_features} (old head's in_features).\n  Hint: use "
                "model._fc.in_features, not a number you typed."
            )
        if head["out_features"] != num_classes:
            raise CaseFailure(
                f"the new head gives {head['out_features']} scores, expected num_classes = "
                f"{num_classes}."
            )
        if not head["bias"]:
            raise CaseFailure("the new head has no bias; keep nn.Linear's default bias=True.")
        if not all(head["requires_grad"]):
            raise CaseFailure("the new head's parameters must be trainable (requires_grad True).")
        for param_name in report["changed"]:
            if not param_name.startswith("_fc."):
                raise CaseFailure(
                    f"the parameter {param_name} changed or is new; replace only model._fc."
                )
        return None

    chosen = select_cases(cases, _head_cases, _hidden_head_cases, name)
    return run_check(name, chosen, evaluate, kind=cases, arg_names=("model", "num_classes"))


# --- set_trainable -------------------------------------------------------------------------------


def _expected_trainable(model: nn.Module, num_blocks: int) -> set[str]:
    names = {f"_fc.{n}" for n, _ in model._fc.named_parameters()}
    if num_blocks > 0:
        first = len(model._blocks) - num_blocks
        for index in range(first, len(model._blocks)):
            names |= {f"_blocks.{index}.{n}" for n, _ in model._blocks[index].named_parameters()}
        for layer in ("_conv_head", "_bn1"):
            names |= {f"{layer}.{n}" for n, _ in getattr(model, layer).named_parameters()}
    return names


def _trainable_cases() -> list[Case]:
    cases = []
    for spec in _model_specs(None):
        blocks = 16 if spec[0] == "lite0" else spec[1]
        for k in sorted({0, 1, 3 if blocks > 3 else blocks, blocks}):
            cases.append(Case(f"{_describe_spec(spec)}, num_blocks={k}", (spec, k)))
    cases.append(Case("num_blocks larger than the number of blocks", (("small", 4, 8, 16, 10), 5)))
    cases.append(Case("negative num_blocks", (("small", 4, 8, 16, 10), -1)))
    return cases


def _hidden_trainable_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i, spec in enumerate(_model_specs(rng)):
        k = int(rng.integers(0, spec[1] + 1))
        cases.append(Case(f"hidden {i + 1}: {_describe_spec(spec)}, num_blocks={k}", (spec, k)))
    return cases


def _trainable_first_blocks(model, num_blocks):
    if num_blocks == 0 or num_blocks == len(model._blocks):
        raise NotApplicable
    names = _expected_trainable(model, 0) | _expected_trainable(model, num_blocks) - {
        n for n in _expected_trainable(model, num_blocks) if n.startswith("_blocks.")
    }
    for index in range(num_blocks):
        names |= {f"_blocks.{index}.{n}" for n, _ in model._blocks[index].named_parameters()}
    return names


def _trainable_no_top_layers(model, num_blocks):
    if num_blocks == 0:
        raise NotApplicable
    return {
        n
        for n in _expected_trainable(model, num_blocks)
        if not n.startswith(("_conv_head.", "_bn1."))
    }


def _trainable_head_frozen(model, num_blocks):
    return {n for n in _expected_trainable(model, num_blocks) if not n.startswith("_fc.")}


def _trainable_one_too_many(model, num_blocks):
    if num_blocks == 0 or num_blocks == len(model._blocks):
        raise NotApplicable
    return _expected_trainable(model, num_blocks + 1)


def _trainable_nothing_frozen(model, num_blocks):
    if num_blocks == len(model._blocks) and not any(True for _ in model._conv_stem.parameters()):
        raise NotApplicable
    return {n for n, _ in model.named_parameters()}


_TRAINABLE_MISTAKES = [
    Mistake(
        "you unfroze the FIRST num_blocks blocks. The top of the network (the last blocks, next "
        "to the head) holds the most task-specific features: unfreeze model._blocks[-num_blocks:].",
        _trainable_first_blocks,
    ),
    Mistake(
        "model._conv_head and model._bn1 sit between the last block and the head: when any "
        "block trains, they must train too.",
        _trainable_no_top_layers,
    ),
    Mistake(
        "the new head model._fc is frozen: it is the one layer that must always learn.",
        _trainable_head_frozen,
    ),
    Mistake(
        "one block too many is trainable (an off-by-one in the slice): the last num_blocks "
        "blocks are model._blocks[len(model._blocks) - num_blocks:].",
        _trainable_one_too_many,
    ),
    Mistake(
        "nothing is frozen: first set requires_grad = False on every parameter "
        "(for p in model.parameters()), then unfreeze the top.",
        _trainable_nothing_frozen,
    ),
]


@check
def check_set_trainable(set_trainable: Callable, cases: str = "public") -> CheckResult:
    """Check ``set_trainable(model, num_blocks)``: which parameters require grad."""
    name = _display_name(set_trainable, "set_trainable")

    def evaluate(case: Case) -> None:
        spec, num_blocks = case.args
        model = build_spec(spec)
        report = _measured(
            name, case.name, "trainable_after", set_trainable, list(spec), num_blocks
        )
        if not 0 <= num_blocks <= len(model._blocks):
            error = report.get("error")
            if error is not None:
                if error["stage"] == "call" and "ValueError" in error["types"]:
                    return None
                raise raised(error, name)
            raise CaseFailure(
                f"returned {report['answer']}, but num_blocks = {num_blocks} is outside "
                f"0..{len(model._blocks)}: raise ValueError saying so."
            )
        _returned_model(report, name)
        got = set(report["trainable"])
        expected = _expected_trainable(model, num_blocks)
        if got == expected:
            return None
        wrongly_on = sorted(got - expected)
        wrongly_off = sorted(expected - got)
        lines = []
        if wrongly_on:
            lines.append(f"{len(wrongly_on)} parameter(s) should be frozen: {_names(wrongly_on)}")
        if wrongly_off:
            lines.append(
                f"{len(wrongly_off)} parameter(s) should be trainable: {_names(wrongly_off)}"
            )
        body = "which parameters require grad is wrong;\n  " + "\n  ".join(lines)
        for mistake in _TRAINABLE_MISTAKES:
            try:
                predicted = mistake.predict(build_spec(spec), num_blocks)
            except NotApplicable:
                continue
            if predicted == got:
                body += f"\n  Hint: {mistake.hint}"
                break
        raise CaseFailure(body)

    chosen = select_cases(cases, _trainable_cases, _hidden_trainable_cases, name)
    return run_check(name, chosen, evaluate, kind=cases, arg_names=("model", "num_blocks"))


def _names(names: Sequence[str], shown: int = 4) -> str:
    more = f", ... ({len(names) - shown} more)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


# --- param_groups --------------------------------------------------------------------------------


def _groups_cases() -> list[Case]:
    cases = []
    for spec, k in zip(_model_specs(None), (2, 7, 3)):
        cases.append(
            Case(f"{_describe_spec(spec)}, top {k} blocks trainable, lr 1e-3", (spec, k, 1e-3, 0.1))
        )
    cases.append(
        Case(
            "feature extraction (only the head), lr 0.01, factor 0.2",
            (("small", 4, 8, 16, 10), 0, 0.01, 0.2),
        )
    )
    return cases


def _hidden_groups_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i, spec in enumerate(_model_specs(rng)):
        k = int(rng.integers(0, spec[1] + 1))
        lr, factor = float(10 ** rng.uniform(-4, -1)), float(rng.uniform(0.01, 0.5))
        cases.append(
            Case(f"hidden {i + 1}: {_describe_spec(spec)}, top {k} blocks", (spec, k, lr, factor))
        )
    return cases


@check
def check_param_groups(param_groups: Callable, cases: str = "public") -> CheckResult:
    """Check ``param_groups(model, lr, backbone_factor=0.1)``: [head at lr, the other trainable
    parameters at lr * backbone_factor], frozen ones left out, each parameter once."""
    name = _display_name(param_groups, "param_groups")

    def evaluate(case: Case) -> None:
        spec, num_blocks, lr, factor = case.args
        model = build_spec(spec)
        trainable = _expected_trainable(model, num_blocks)
        names = [n for n, _ in model.named_parameters()]
        report = _measured(
            name,
            case.name,
            "optimizer_groups",
            param_groups,
            list(spec),
            [n for n in names if n in trainable],
            lr,
            factor,
        )
        if "error" in report:
            raise raised(report["error"], name)
        if "malformed" in report:
            raise CaseFailure(
                f"{name} must return a list of dicts with keys 'params' and 'lr'; it returned "
                f"{report['malformed']}."
            )
        groups = report["groups"]
        if len(groups) != 2:
            raise CaseFailure(f"expected 2 groups (head, backbone), got {len(groups)}.")
        for index, group in enumerate(groups):
            keys = group["keys"]
            if set(keys) - {"params", "lr"} or "params" not in keys or "lr" not in keys:
                raise CaseFailure(
                    f"group {index} has keys {sorted(keys)}; each group needs exactly 'params' "
                    "and 'lr'."
                )
            if group["params"] is None:
                raise CaseFailure(
                    f"group {index}'s 'params' must be a list of the model's parameters; it is "
                    f"{group.get('params_answer', 'missing')}."
                )
        head_group, backbone_group = (
            ["?" if n is None else n for n in group["params"]] for group in groups
        )
        expected_head = [n for n in names if n.startswith("_fc.")]
        expected_backbone = [n for n in names if n in trainable and not n.startswith("_fc.")]
        everything = head_group + backbone_group
        if "?" in everything:
            raise CaseFailure("a group holds something that is not a parameter of the model.")
        duplicated = sorted({n for n in everything if everything.count(n) > 1})
        if duplicated:
            raise CaseFailure(
                f"{len(duplicated)} parameter(s) are in more than one group or twice in one: "
                f"{_names(duplicated)}.\n  Hint: leave the head's parameters out of the backbone "
                "group (compare with id(p), or with the names of model.named_parameters())."
            )
        frozen = sorted(n for n in everything if n not in expected_head + expected_backbone)
        if frozen:
            raise CaseFailure(
                f"{len(frozen)} frozen parameter(s) are in a group: {_names(frozen)}.\n  Hint: "
                "keep only parameters with p.requires_grad; the optimiser has no business with "
                "frozen ones (and weight decay would still shrink them)."
            )
        if set(head_group) != set(expected_head) and set(backbone_group) == set(expected_head):
            raise CaseFailure(
                "the groups are in the wrong order: the head's group comes first, then the "
                "backbone's."
            )
        if set(head_group) != set(expected_head):
            raise CaseFailure(
                f"the first group must hold exactly the head's parameters {expected_head}; it "
                f"holds {_names(head_group)}."
            )
        if set(backbone_group) != set(expected_backbone):
            missing = sorted(set(expected_backbone) - set(backbone_group))
            raise CaseFailure(
                f"the backbone group misses {len(missing)} trainable parameter(s): "
                f"{_names(missing)}."
            )
        rates = []
        for index, group in enumerate(groups):
            rate = group["values"]["lr"]
            if "number" not in rate:
                raise CaseFailure(
                    f"the 'lr' of group {index} is {rate['answer']}; a learning rate is a number."
                )
            rates.append(rate["number"])
        head_lr, backbone_lr = rates
        if not np.isclose(head_lr, lr, rtol=1e-12) or not np.isclose(
            backbone_lr, lr * factor, rtol=1e-12
        ):
            hint = ""
            if np.isclose(head_lr, lr * factor) and np.isclose(backbone_lr, lr):
                hint = (
                    "\n  Hint: the learning rates are swapped: the new head learns fast (lr), the "
                    "pretrained backbone slowly (lr * backbone_factor), so that fine-tuning does "
                    "not wreck what it learned on ImageNet."
                )
            raise CaseFailure(
                f"learning rates {head_lr:g} (head) and {backbone_lr:g} (backbone), expected "
                f"{lr:g} and {lr * factor:g}.{hint}"
            )
        return None

    chosen = select_cases(cases, _groups_cases, _hidden_groups_cases, name)
    return run_check(
        name,
        chosen,
        evaluate,
        kind=cases,
        arg_names=("model", "num_blocks", "lr", "backbone_factor"),
    )
