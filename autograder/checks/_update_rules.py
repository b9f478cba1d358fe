"""How a check judges an update rule ``(w, dw, config) -> (next_w, config)`` (notebook 03).

A case is a short optimisation run: a starting ``w``, one gradient ``dw`` per step and a
starting ``config`` (None, some keys, or all of them, sometimes with saved state). The judge,
``UpdateRun``, calls the student's rule once per step on fresh arrays, feeding back the config
it returned (a plain dict of floats and ndarrays), and after every step compares ``next_w`` and
the state in ``config`` with the PyTorch twin in ``course_utils.reference``, run beside it in
float64. Every step also checks that the hyper-parameters are in the returned config, with the
contract's defaults where the case left them out.

One case runs two optimisations interleaved (a step of one, a step of the other), each with its
own config: state kept anywhere but in ``config`` (a global, a closure, a default argument)
mixes them up. When a case fails and two calls with identical inputs give different answers,
the diagnosis says that the function keeps state outside ``config``: that is proof
(``HIDDEN_STATE``).

A known mistake is a whole mistaken update rule: a ``Mistake`` whose prediction is what that
rule returns for one call, ``(next_w, config)``. The judge runs it over the case
(``_over_the_run``): the mistaken run's prediction is its snapshots (``next_w`` and the state
after every call), and the engine's ``diagnose`` names the mistake only when the student's whole
run so far equals it.

``update_rule_exercise`` makes the ``Exercise`` of one rule, with the cases every rule shares.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from autograder.checks._engine import (
    FLOAT64,
    Attempt,
    Case,
    CaseFailure,
    Exercise,
    Hint,
    Mistake,
    NotApplicable,
    Tolerance,
    compare_arrays,
    describe_answer,
    diagnose,
    matches,
    tolerance_for,
)

__all__ = ["UpdateRun", "HIDDEN_STATE", "update_rule_exercise", "log_uniform"]

ARG_NAMES = (
    "w",
    "dw (one per step)",
    "config",
    "second run's w",
    "second run's dw",
    "second run's config",
)


class _Shown(dict):
    """A starting config that describes its arrays by shape in a diagnosis (never passed on)."""

    def __repr__(self) -> str:
        parts = []
        for key, value in self.items():
            shown = f"array {value.shape}" if isinstance(value, np.ndarray) else repr(value)
            parts.append(f"{key!r}: {shown}")
        return "{" + ", ".join(parts) + "}"


# --- a case is one run, or two interleaved ------------------------------------------------------


def _runs(args: tuple) -> list[tuple[np.ndarray, np.ndarray, dict | None]]:
    """The case's runs, (w, dw stacked over steps, config): one, or two to interleave."""
    return [tuple(args[i : i + 3]) for i in range(0, len(args), 3)]


def _schedule(args: tuple) -> list[tuple[int, int]]:
    """(run, step) in calling order: run A's steps, interleaved with run B's when there is one."""
    runs = _runs(args)
    steps = max(len(dw) for _, dw, _ in runs)
    return [(r, k) for k in range(steps) for r in range(len(runs)) if k < len(runs[r][1])]


def _plain(config: dict | None) -> dict | None:
    """A fresh plain dict of floats and ndarrays, as a student's code receives it."""
    if config is None:
        return None
    return {key: copy.deepcopy(value) for key, value in config.items()}


def _tensor_config(config: dict | None) -> dict | None:
    if config is None:
        return None
    return {
        key: torch.from_numpy(np.array(value, dtype=np.float64))
        if isinstance(value, np.ndarray)
        else value
        for key, value in config.items()
    }


def _numpy_state(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.numpy()
    return np.array([float(value)])


def _snapshot(next_w: np.ndarray, config: dict, state: tuple[str, ...]) -> list[np.ndarray]:
    """What one step leaves: ``[next_w, config[key] for each state key]`` as float64 arrays."""
    return [next_w] + [np.atleast_1d(np.asarray(config[key], dtype=np.float64)) for key in state]


# --- the known mistakes: whole update rules, run over the case ---------------------------------


def _mistaken_run(
    rule: Callable, args: tuple, state: tuple[str, ...], calls: int
) -> list[list[np.ndarray]]:
    """The snapshots that ``rule`` leaves over the first ``calls`` calls of the case ``args``."""
    runs = _runs(args)
    ws = [np.array(w, dtype=np.float64) for w, _, _ in runs]
    configs = [_plain(config) for _, _, config in runs]
    snapshots = []
    for r, k in _schedule(args)[:calls]:
        next_w, configs[r] = rule(ws[r].copy(), runs[r][1][k].copy(), configs[r])
        ws[r] = np.asarray(next_w, dtype=np.float64)
        snapshots.append(_snapshot(ws[r], configs[r], state))
    return snapshots


def _over_the_run(
    mistake: Mistake, state: tuple[str, ...], calls: int, right: list[np.ndarray]
) -> Mistake:
    """``mistake`` (a mistaken update rule) as the run it makes: its prediction is the
    snapshots of the case's first ``calls`` calls. It proves nothing where its last snapshot is
    the right one, ``right``."""

    def predict(*args: Any) -> list[list[np.ndarray]]:
        snapshots = _mistaken_run(mistake.predict, args, state, calls)
        last = snapshots[-1]
        if all(
            p.shape == e.shape and matches(np.asarray(p, dtype=np.float64), e, FLOAT64)
            for p, e in zip(last, right)
        ):
            raise NotApplicable
        return snapshots

    return Mistake(mistake.id, mistake.hint, predict)


HIDDEN_STATE = Hint(
    "hidden_state",
    "two calls with identical inputs gave different answers, so your function keeps state "
    "outside config (a global variable, a closure or a default argument). Everything that "
    "must survive to the next step belongs in config, which the caller hands back to you: "
    "one config per parameter is the whole optimiser state.",
)


def _keeps_hidden_state(attempt: Attempt, state: tuple[str, ...]) -> bool:
    """Call the student's rule twice on identical fresh inputs; True when the answers differ."""
    rng = np.random.default_rng(7)
    w, dw = rng.standard_normal(4), rng.standard_normal(4)
    answers = []
    for _ in range(2):
        try:
            next_w, config = attempt.tuple(
                attempt.call_case(Case("probe", (w, dw, None))), ("next_w", "config")
            )
            answers.append(
                [np.asarray(next_w, dtype=np.float64)]
                + [np.asarray(config.get(k, np.nan), dtype=np.float64) for k in state]
            )
        except Exception:
            return False
    return not all(
        a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
        for a, b in zip(answers[0], answers[1])
    )


# --- judging one run --------------------------------------------------------------------------


def _not_in_config(key: str) -> Hint:
    return Hint(
        "state_not_in_config",
        f'the optimiser\'s state must be stored in config (config["{key}"] = ...), so that the '
        "next call, which gets this config back, continues from it. State kept anywhere else (a "
        "global, a closure) mixes up the runs of different parameters.",
    )


@dataclass(frozen=True)
class UpdateRun:
    """Judge an update rule ``(w, dw, config) -> (next_w, config)`` over a case's run(s): after
    every call, the hyper-parameters in the returned config, then ``next_w`` and each state
    entry of config, compared with the twin's.

    Args:
        twin: the reference rule (tensors in, tensors out).
        defaults: the contract's hyper-parameters and their defaults.
        state: the keys of the optimiser's state in config (``("m", "v", "t")``).
        mistakes: known mistaken rules, each predicting ``(next_w, config)`` for one call.
    """

    twin: Callable
    defaults: dict
    state: tuple[str, ...]
    mistakes: tuple[Mistake, ...]

    def __call__(self, attempt: Attempt, case: Case) -> float:
        runs = _runs(case.args)
        ws = [np.array(w, dtype=np.float64) for w, _, _ in runs]
        configs = [_plain(config) for _, _, config in runs]
        twin_ws = [torch.from_numpy(w.copy()) for w in ws]
        twin_configs = [_tensor_config(config) for _, _, config in runs]
        got: list[list[np.ndarray]] = []
        largest = 0.0
        for r, k in _schedule(case.args):
            where = f"step {k + 1} of {len(runs[r][1])}" + (
                f" of run {'AB'[r]} (the runs are interleaved)" if len(runs) > 1 else ""
            )
            dw = runs[r][1][k]
            twin_ws[r], twin_configs[r] = self.twin(
                twin_ws[r], torch.from_numpy(dw.copy()), twin_configs[r]
            )
            right = [twin_ws[r].numpy()]
            right += [_numpy_state(twin_configs[r][key]) for key in self.state]
            try:
                next_w, config, tol = self._step(attempt, case, ws[r], dw, configs[r])
                snapshot = [next_w] + self._state(attempt, config, configs[r], twin_configs[r])
                got.append(snapshot)
                largest = max(largest, self._compare(attempt, case, got, right, tol))
            except CaseFailure as failure:
                if failure.hint is None and _keeps_hidden_state(attempt, self.state):
                    failure = failure.with_hint(HIDDEN_STATE)
                raise CaseFailure(
                    f"at {where}: {failure}", failure.hint, failure.difference
                ) from None
            ws[r], configs[r] = next_w, config
        return largest

    @staticmethod
    def _step(attempt: Attempt, case: Case, w: np.ndarray, dw: np.ndarray, config: dict | None):
        """One call on fresh copies: ``(next_w as float64, the returned config, tolerance)``."""
        answer = attempt.call_case(Case(case.name, (w, dw, config)))
        next_w, returned = attempt.tuple(answer, ("next_w", "config"))
        return attempt.array(next_w, "next_w"), returned, tolerance_for(next_w)

    def _state(
        self, attempt: Attempt, config: Any, went_in: dict | None, right: dict
    ) -> list[np.ndarray]:
        """The returned config's hyper-parameters (right values) and state (present, converted).

        ``went_in`` is the config this call was given: its hyper-parameters must come back as
        they went in; the missing ones must come back with the contract's defaults.
        """
        name = attempt.name
        if config is None:
            raise CaseFailure(
                f"{name} returned None as its config. When config is None, start a new dict "
                "(config = {}), store the defaults in it, and return it: the caller hands it "
                "back at the next step."
            )
        if not isinstance(config, dict):
            raise CaseFailure(
                f"{name} must return a tuple (next_w, config) with config a dict; config is "
                f"{describe_answer(config).removeprefix('one ')}."
            )
        given = went_in or {}
        for key, default in self.defaults.items():
            if key not in config:
                raise CaseFailure(
                    f'the returned config has no "{key}". When a hyper-parameter is missing, use '
                    f"its default and store it back into config, e.g. "
                    f'config.setdefault("{key}", {default!r}) (the contract\'s default for '
                    f"{name})."
                )
            value = attempt.number(config[key], f'config["{key}"]')
            if not math.isclose(value, right[key], rel_tol=1e-12, abs_tol=0.0):
                if key in given:
                    raise CaseFailure(
                        f'config["{key}"] was {given[key]!r} when it went in and is {value!r} in '
                        "the config you returned: keep the caller's hyper-parameters as they are."
                    )
                raise CaseFailure(
                    f'config["{key}"] is {value!r}, but the default {key} of {name} is '
                    f"{default!r}.",
                    Hint(
                        "wrong_default",
                        f"wrong default. The contract's defaults for {name} are "
                        f"{self.defaults}; use them when a key is missing, and store them in "
                        "config.",
                    ),
                )
        state = []
        for key in self.state:
            if key not in config:
                raise CaseFailure(f'the returned config has no "{key}".', _not_in_config(key))
            if key == "t":
                state.append(np.array([attempt.number(config[key], 'config["t"]')]))
            else:
                state.append(attempt.array(config[key], f'config["{key}"]'))
        return state

    def _compare(
        self,
        attempt: Attempt,
        case: Case,
        got: list[list[np.ndarray]],
        right: list[np.ndarray],
        tol: Tolerance,
    ) -> float:
        """The last step's relative error; a failure names a mistaken rule whose run so far
        equals the student's."""
        snapshot = got[-1]
        try:
            error = compare_arrays(snapshot[0], right[0], what="next_w", tol=tol)
            for key, value, expected in zip(self.state, snapshot[1:], right[1:]):
                if key == "t":
                    if value.shape != expected.shape or value[0] != expected[0]:
                        raise CaseFailure(
                            f'config["t"] is {value[0]:g}, expected {expected[0]:g}: t counts '
                            "the steps taken, 0 before the first."
                        )
                    continue
                compare_arrays(value, expected, what=f'config["{key}"]', tol=tol)
            return error
        except CaseFailure as failure:
            runs = [_over_the_run(m, self.state, len(got), right) for m in self.mistakes]
            raise failure.with_hint(diagnose(runs, case.args, got)) from None


# --- cases --------------------------------------------------------------------------------------


def _gradients(rng: np.random.Generator, steps: int, shape: tuple, scale: float = 1.0):
    return scale * rng.standard_normal((steps, *shape))


def _public_cases(run: UpdateRun, hyper: dict, state_start: Callable) -> list[Case]:
    """The public cases of every optimiser; ``hyper`` is a full set of other hyper-parameters."""
    rng = np.random.default_rng(303)
    first_key = next(iter(run.defaults))
    sparse = _gradients(rng, 6, (3, 4))
    sparse[:, 0, :] = 0.0  # a dead unit: its gradient is exactly zero at every step
    w_a, w_b = rng.standard_normal((2, 5))
    resume = _Shown({**hyper, **state_start(rng, (2, 3))})
    cases = [
        Case(
            "config=None: every default", (rng.standard_normal(5), _gradients(rng, 6, (5,)), None)
        ),
        Case(
            f'only "{first_key}" given: the rest default',
            (rng.standard_normal(4), _gradients(rng, 6, (4,)), _Shown({first_key: 0.05})),
        ),
        Case(
            "2-D weights (4, 3), every hyper-parameter given",
            (rng.standard_normal((4, 3)), _gradients(rng, 8, (4, 3)), _Shown(hyper)),
        ),
        Case(
            "4-D conv weights (2, 3, 3, 3)",
            (rng.standard_normal((2, 3, 3, 3)), _gradients(rng, 5, (2, 3, 3, 3)), _Shown(hyper)),
        ),
        Case(
            "a scalar weight as a 1-element array",
            (np.array([1.5]), _gradients(rng, 10, (1,)), _Shown(hyper)),
        ),
        Case(
            "tiny gradients (about 1e-5)",
            (rng.standard_normal(6), _gradients(rng, 6, (6,), scale=1e-5), None),
        ),
        Case(
            "gradients exactly zero for one unit",
            (rng.standard_normal((3, 4)), sparse, _Shown(hyper)),
        ),
        Case(
            "two runs interleaved, each with its own config",
            (w_a, _gradients(rng, 6, (5,)), None, w_b, _gradients(rng, 6, (5,)), None),
        ),
    ]
    if run.state:
        w, dw = rng.standard_normal((2, 3)), _gradients(rng, 6, (2, 3))
        cases.append(Case("resuming from a saved state", (w, dw, resume)))
    return cases


def _hidden_cases(
    run: UpdateRun, draw_hyper: Callable, state_start: Callable, rng: np.random.Generator
) -> list[Case]:
    shapes = [
        (1,),
        (int(rng.integers(2, 9)),),
        tuple(int(n) for n in rng.integers(1, 6, size=2)),
        tuple(int(n) for n in rng.integers(1, 4, size=4)),
    ]
    cases = []
    for i, shape in enumerate(shapes):
        steps = int(rng.integers(5, 11))
        scale = float(10 ** rng.uniform(-2, 1))
        cases.append(
            Case(
                f"hidden {i + 1}: w {shape}, {steps} steps, drawn hyper-parameters",
                (
                    rng.standard_normal(shape),
                    _gradients(rng, steps, shape, scale),
                    _Shown(draw_hyper(rng)),
                ),
            )
        )
    shape = shapes[2]
    cases += [
        Case(
            "hidden: config=None",
            (rng.standard_normal(shape), _gradients(rng, int(rng.integers(5, 11)), shape), None),
        ),
        Case(
            "hidden: tiny gradients",
            (
                rng.standard_normal(shape),
                _gradients(rng, 6, shape, float(10 ** rng.uniform(-7, -5))),
                _Shown({k: v for k, v in draw_hyper(rng).items() if k != "epsilon"}),
            ),
        ),
        Case(
            "hidden: resuming from a saved state" if run.state else "hidden: five more steps",
            (
                rng.standard_normal(shape),
                _gradients(rng, 5, shape),
                _Shown({**draw_hyper(rng), **state_start(rng, shape)}),
            ),
        ),
        Case(
            "hidden: two runs interleaved",
            (
                rng.standard_normal(shape),
                _gradients(rng, 5, shape),
                _Shown(draw_hyper(rng)),
                rng.standard_normal(shape),
                _gradients(rng, 5, shape),
                None,
            ),
        ),
    ]
    return cases


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """A hyper-parameter drawn uniformly on a log scale between ``low`` and ``high``."""
    return float(10 ** rng.uniform(math.log10(low), math.log10(high)))


def _no_state(rng: np.random.Generator, shape: tuple) -> dict:
    return {}


def update_rule_exercise(
    name: str,
    run: UpdateRun,
    hyper: dict,
    draw_hyper: Callable[[np.random.Generator], dict],
    state_start: Callable[[np.random.Generator, tuple], dict] = _no_state,
) -> Exercise:
    """The exercise of one update rule: the public cases with the full set of hyper-parameters
    ``hyper``, hidden ones with ``draw_hyper(rng)``; ``state_start(rng, shape)`` is a saved
    state to resume from."""
    return Exercise(
        name,
        args=ARG_NAMES,
        public=functools.partial(_public_cases, run, hyper, state_start),
        hidden=functools.partial(_hidden_cases, run, draw_hyper, state_start),
        judge=run,
        own_names=False,
    )
