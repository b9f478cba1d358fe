"""Checks for notebook 06's random augmentations, judged by what must hold whatever the
random numbers: ``random_flip`` returns the image (C, H, W) or its mirror, both about half of
the time, and the same seed gives the same decisions; ``elastic_field`` has the right shape, is
reproducible, proportional to ``alpha``, smooth, and as strong as the twin's field
(``course_utils.augment``) on average.

A NumPy generator cannot be handed to a student's function that runs in another process
(``cnn-course autograde --isolation sandbox``), so these functions are measured where the
student's code runs (``Attempt.measure``, ``autograder.kernel.measure``): the generators are
made there from seeds, and what comes back is the outputs, as plain data. The verdicts are
computed here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder.checks._engine import (
    Attempt,
    Case,
    CaseFailure,
    CheckResult,
    Exercise,
    Hint,
    check,
    not_a_real_array,
    raised,
)
from course_utils import augment as reference

__all__ = ["check_random_flip", "check_elastic_field"]


def _image(rng: np.random.Generator, c: int, h: int, w: int) -> np.ndarray:
    return rng.random((c, h, w))


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


_VERTICAL = Hint(
    "vertical",
    "you flipped the rows (axis 1, vertical flip). A mirror image reverses the columns: "
    "x[:, :, ::-1]. Upside-down clothes and cats are rare; mirrored ones are common.",
)


def _flip_draws(attempt: Attempt, x: np.ndarray, report: dict) -> list[bool]:
    """Which calls of ``report`` (``calls_with_one_generator``) flipped x; fail on an answer
    that is neither x nor its mirror."""
    mirror = x[:, :, ::-1]
    draws = []
    for out in report["outputs"]:
        if out.shape != x.shape:
            raise CaseFailure(f"out has shape {out.shape}, expected {x.shape} (C, H, W).")
        if np.array_equal(out, x):
            draws.append(False)
        elif np.array_equal(out, mirror):
            draws.append(True)
        elif np.array_equal(out, x[:, ::-1, :]):
            raise CaseFailure("out is the image upside down.", _VERTICAL)
        else:
            raise CaseFailure(
                "out is neither x nor its mirror x[:, :, ::-1]; random_flip must not "
                "change any pixel value."
            )
    if "error" in report:
        raise raised(report["error"], attempt.name)
    if "odd" in report:
        odd = report["odd"]
        if "shape" in odd:
            raise CaseFailure(f"out has shape {tuple(odd['shape'])}, expected {x.shape} (C, H, W).")
        raise not_a_real_array(odd, attempt.name, "out")
    return draws


def _half_the_time(draws: list[bool]) -> None:
    """Fail unless about half of the draws flipped."""
    flips = sum(draws)
    if flips == 0 or flips == FLIP_DRAWS:
        verb = "never" if flips == 0 else "always"
        raise CaseFailure(
            f"in {FLIP_DRAWS} calls with one generator your function {verb} flipped.",
            Hint(
                "same_every_call",
                "flip when rng.random() < 0.5, drawing a new number at every call (not once, "
                "outside the function).",
            ),
        )
    if not 0.4 * FLIP_DRAWS <= flips <= 0.6 * FLIP_DRAWS:
        raise CaseFailure(
            f"in {FLIP_DRAWS} calls your function flipped {flips} times; a probability "
            f"of 1/2 gives between {int(0.4 * FLIP_DRAWS)} and {int(0.6 * FLIP_DRAWS)}."
        )


def _same_flips_again(attempt: Attempt, x: np.ndarray, seed: int, draws: list[bool]) -> None:
    """Fail unless the same seed gives the same first 50 decisions."""
    repeat = attempt.measure("calls_with_one_generator", [x], seed, 50)
    if "error" in repeat:
        raise raised(repeat["error"], attempt.name)
    mirror = x[:, :, ::-1]
    again = [
        bool(out.shape == mirror.shape and np.array_equal(out, mirror)) for out in repeat["outputs"]
    ]
    if again != draws[:50]:
        raise CaseFailure(
            "the same seed gave different flips.",
            Hint(
                "global_random",
                "draw from the rng you are given (rng.random()), not from np.random or the "
                "random module, so that an experiment can be repeated exactly.",
            ),
        )


def _flips_fairly(attempt: Attempt, case: Case) -> None:
    """x or its mirror, each about half of the time, the same again with the same seed."""
    x, seed = case.fresh()[0]
    report = attempt.measure("calls_with_one_generator", [x], seed, FLIP_DRAWS)
    draws = _flip_draws(attempt, x, report)
    _half_the_time(draws)
    _same_flips_again(attempt, x, seed, draws)


RANDOM_FLIP = Exercise(
    "random_flip",
    args=("x", "seed"),
    public=_flip_cases,
    hidden=_hidden_flip_cases,
    judge=_flips_fairly,
)


@check
def check_random_flip(random_flip: Callable, cases: str = "public") -> CheckResult:
    """Check ``random_flip(x, rng)``: x (C, H, W) or its left-right mirror, each half the time,
    reproducible with the same seed."""
    return RANDOM_FLIP.run(cases, random_flip)


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


def _elastic_calls(shape: tuple[int, int], alpha: float, sigma: float) -> list:
    """The calls ``[args, seed]``, in the order they are judged: seed 0 twice (reproducible?),
    2 alpha with seed 0 (proportional?), then seeds 0, 1, ... (strength on average)."""
    return [
        [[shape, alpha, sigma], 0],
        [[shape, alpha, sigma], 0],
        [[shape, 2 * alpha, sigma], 0],
    ] + [[[shape, alpha, sigma], s] for s in range(ELASTIC_SEEDS)]


def _field(attempt: Attempt, report: dict, index: int) -> np.ndarray:
    """The answer of call ``index`` of ``report`` (``calls_with_fresh_generators``); the
    diagnosis of the call that raised or returned something else, when it did not get there."""
    outputs = report["outputs"]
    if index < len(outputs):
        return outputs[index]
    if "error" in report:
        raise raised(report["error"], attempt.name)
    raise not_a_real_array(report["odd"], attempt.name, "field")


def _one_displacement_per_pixel(field: np.ndarray, shape: tuple[int, int]) -> None:
    if field.shape != (2, *shape):
        raise CaseFailure(
            f"field has shape {field.shape}, expected {(2, *shape)}: (dy, dx) for every pixel."
        )
    if not np.all(np.isfinite(field)):
        raise CaseFailure("field holds non-finite values (nan or inf).")


def _reproducible(field: np.ndarray, again: np.ndarray) -> None:
    if not np.array_equal(field, again):
        raise CaseFailure(
            "the same seed gave a different field.",
            Hint(
                "global_random",
                "draw from the rng you are given (rng.uniform), not from np.random, so the "
                "deformation can be repeated.",
            ),
        )


def _proportional_to_alpha(field: np.ndarray, double: np.ndarray) -> None:
    if not np.allclose(double, 2 * field, rtol=1e-6, atol=1e-9):
        raise CaseFailure(
            "doubling alpha did not double the field (same seed): the field must be "
            "alpha times the smoothed noise."
        )


def _smooth(field: np.ndarray, sigma: float) -> None:
    correlation = _lag_correlation(field)
    if correlation < ELASTIC_MIN_CORRELATION:
        raise CaseFailure(
            f"neighbouring displacements are barely related (correlation {correlation:.2f}; a "
            f"field smoothed with sigma = {sigma:g} has more than {ELASTIC_MIN_CORRELATION}).",
            Hint(
                "not_smoothed",
                "smooth the noise with the Gaussian kernel along the rows and along the "
                "columns; raw noise tears the image apart instead of bending it.",
            ),
        )


def _as_strong_as_the_twin(got: float, shape: tuple[int, int], alpha: float, sigma: float) -> None:
    """Fail unless the field's mean standard deviation ``got`` (over the seeds) is within
    ``ELASTIC_STRENGTH_FACTOR`` of the twin's."""
    expected = np.mean(
        [
            reference.elastic_field(shape, alpha, sigma, np.random.default_rng(s)).std().item()
            for s in range(ELASTIC_SEEDS)
        ]
    )
    if expected / ELASTIC_STRENGTH_FACTOR <= got <= expected * ELASTIC_STRENGTH_FACTOR:
        return
    hint = None
    if got > expected * 3:
        hint = Hint(
            "unnormalised_kernel",
            "divide the Gaussian kernel by its sum, so that smoothing averages the noise "
            "instead of adding it up.",
        )
    raise CaseFailure(
        f"the field is {'too strong' if got > expected else 'too weak'}: its standard "
        f"deviation is {got:.3g} pixels on average, expected about {expected:.3g} "
        f"(within a factor {ELASTIC_STRENGTH_FACTOR}). Draw the noise with "
        f"rng.uniform(-1, 1), use a normalised kernel of radius ceil(3 sigma), "
        f"then multiply by alpha.",
        hint,
    )


def _bends_smoothly(attempt: Attempt, case: Case) -> None:
    """The field's shape, then reproducible, proportional to alpha, smooth, and as strong as
    the twin's."""
    shape, alpha, sigma = case.fresh()[0]
    report = attempt.measure("calls_with_fresh_generators", _elastic_calls(shape, alpha, sigma))
    first = _field(attempt, report, 0)
    _one_displacement_per_pixel(first, shape)
    _reproducible(first, _field(attempt, report, 1))
    _proportional_to_alpha(first, _field(attempt, report, 2))
    _smooth(first, sigma)
    got = np.mean([_field(attempt, report, 3 + s).std() for s in range(ELASTIC_SEEDS)])
    _as_strong_as_the_twin(got, shape, alpha, sigma)


ELASTIC_FIELD = Exercise(
    "elastic_field",
    args=("shape", "alpha", "sigma"),
    public=_elastic_cases,
    hidden=_hidden_elastic_cases,
    judge=_bends_smoothly,
)


@check
def check_elastic_field(elastic_field: Callable, cases: str = "public") -> CheckResult:
    """Check ``elastic_field(shape, alpha, sigma, rng) -> (2, H, W)``: shape, reproducibility,
    proportional to alpha, smooth, and as strong as the reference field on average."""
    return ELASTIC_FIELD.run(cases, elastic_field)
