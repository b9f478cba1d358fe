"""`cnn-course`: the instructor's commands on top of nbgrader, and the student's self-check.

    cnn-course [--course DIR] COMMAND [options]

| command | what it does |
|---|---|
| `release [--out DIR] [--source DIR] [ASSIGNMENT...]` | build the student release |
| `collect SRC [--force]` | take submissions `SRC/<student>/<assignment>/*.ipynb` or a zip |
| `autograde [ASSIGNMENT...] [--student ID] [--jobs N] [--timeout S] [--budget S] [--memory GIB] [--isolation sandbox|kernel] [--allow-unsandboxed] [--require-sandbox] [--scheduler ADDRESS]` | grade submissions |
| `feedback [ASSIGNMENT...] [--student ID]` | an HTML page per student and assignment |
| `export [--to grades.csv] [--detail] [--format csv|canvas|moodle]` | one row per student, points per assignment, total |
| `report [ASSIGNMENT...] [--out DIR]` | the class report: scores, exercises, misconceptions |
| `check NOTEBOOK` | a student's self-check: run the notebook, print a score card |
| `colab [--package SPEC] [--notebooks URL] [--data URL]` | where Colab gets the course from |
| `demo` | the whole instructor round on a sample class |

`--course DIR` (default `./course`) is accepted before or after the command. Exit status: 0 on
success, 1 when something needs the instructor's attention (reported after the whole batch
ran), 2 when the command line itself is wrong.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder import __version__
from autograder.course import Course, CourseError, UsageError, did_you_mean

DEFAULT_COURSE = "course"

COMMANDS = {
    "release": "build the student release (solutions and hidden tests stripped) from notebooks/",
    "collect": "take submissions laid out as SRC/<student>/<assignment>/*.ipynb, or a zip",
    "autograde": "grade every collected submission; one bad submission never stops the batch",
    "feedback": "write an HTML page per student and assignment with each failed check",
    "export": "write grades: one row per student, points per assignment, and the total",
    "report": "what the class got right and wrong: scores, exercises, the hints it was given",
    "check": "a student's self-check: run a notebook's visible tests, print a score card",
    "colab": "set where Colab gets the course package and the release notebooks from",
    "demo": "the whole instructor round on a sample class, ending in a grade table",
}


class _Parser(argparse.ArgumentParser):
    """argparse, plus "Did you mean ...?" for a mistyped command."""

    def error(self, message: str):
        if "invalid choice" in message and "'release'" in message:
            typed = message.split("invalid choice: ")[1].split(" ")[0].strip("'\"")
            message += "." + did_you_mean(typed, COMMANDS)
        super().error(message)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _add_course_option(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument(
        "--course",
        metavar="DIR",
        default=default,
        help=f"the course directory (nbgrader's layout; default ./{DEFAULT_COURSE})",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `cnn-course`, with every command."""
    parser = _Parser(
        prog="cnn-course",
        description="Release, collect, grade and hand back the cnn-course notebooks "
        "(on nbgrader), and let students check their own work.",
        epilog="Run `cnn-course COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"cnn-course {__version__}")
    _add_course_option(parser, default=None)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=COMMANDS[name], description=COMMANDS[name])
        # Also accepted after the command; SUPPRESS keeps a value given before it.
        _add_course_option(sub, default=argparse.SUPPRESS)
        return sub

    release = command("release")
    release.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: all")
    release.add_argument("--out", metavar="DIR", help="also copy each release to DIR/<a>.ipynb")
    release.add_argument(
        "--source", metavar="DIR", help="folder of source notebooks (default: notebooks/)"
    )

    collect = command("collect")
    collect.add_argument("src", metavar="SRC", help="a folder or a zip of submissions")
    collect.add_argument(
        "--force",
        action="store_true",
        help="replace submissions already collected (old copies go to submitted_backup/)",
    )

    autograde = command("autograde")
    autograde.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: all")
    autograde.add_argument("--student", metavar="ID", help="grade only this student")
    autograde.add_argument(
        "--jobs", type=_positive_int, default=1, metavar="N", help="notebooks graded at once"
    )
    autograde.add_argument(
        "--timeout",
        type=_positive_int,
        metavar="SECONDS",
        help="seconds one cell may run (default: what each notebook declares, else 600)",
    )
    autograde.add_argument(
        "--budget",
        type=_positive_int,
        metavar="SECONDS",
        help="seconds a whole notebook may take; the cells still to run after it score 0 "
        "(default: what each notebook declares, else 1800)",
    )
    autograde.add_argument(
        "--rerun-all-cells",
        action="store_true",
        default=None,
        help="run every cell of each submission (default: only the cells its grades need; the "
        "others keep their submitted outputs, marked as not re-run; a course sets it with "
        "c.CnnCourse.rerun_all_cells)",
    )
    autograde.add_argument(
        "--memory",
        type=_positive_float,
        metavar="GIB",
        help="memory cap of each kernel in GiB (default: sized so that --jobs kernels fit in "
        "this machine, at most 6)",
    )
    autograde.add_argument(
        "--isolation",
        choices=("sandbox", "kernel"),
        help="sandbox: the student's cells run in a sandboxed kernel and the checks in the "
        "grader, out of the student's reach; kernel: the checks run in the student's kernel, "
        "as plain nbgrader does (no sandbox). Default: $CNN_COURSE_ISOLATION, else sandbox; "
        "see docs/grading-security.md",
    )
    autograde.add_argument(
        "--allow-unsandboxed",
        action="store_true",
        help="grade with isolation sandbox even where bubblewrap or a process limit is "
        "missing (limits only: the student's code runs with your permissions); without it "
        "such a run refuses and grades nothing",
    )
    autograde.add_argument(
        "--require-sandbox",
        action="store_true",
        help="refuse any isolation but sandbox (the full sandbox is required anyway unless "
        "--allow-unsandboxed)",
    )
    autograde.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="grade on a Dask cluster (e.g. tcp://10.0.0.5:8786); workers must see the course "
        "directory at the same path",
    )

    feedback = command("feedback")
    feedback.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: all")
    feedback.add_argument("--student", metavar="ID", help="only this student")

    export = command("export")
    export.add_argument(
        "--to", default="grades.csv", metavar="FILE", help="the CSV to write (default grades.csv)"
    )
    export.add_argument(
        "--detail", action="store_true", help="one column per graded cell too (points)"
    )
    export.add_argument(
        "--format",
        choices=("csv", "canvas", "moodle"),
        default="csv",
        help="csv: student_id, one column per assignment, total (the default); canvas and "
        "moodle: the layout each imports (see `autograder.export`)",
    )

    report = command("report")
    report.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: all")
    report.add_argument(
        "--out", metavar="DIR", help="the folder to write to (default <course>/reports)"
    )

    check = command("check")
    check.add_argument("notebook", metavar="NOTEBOOK", help="the .ipynb to check")
    check.add_argument(
        "--timeout", type=_positive_int, metavar="SECONDS", help="seconds one cell may run"
    )

    colab = command("colab")
    colab.description = (
        "Set where Colab gets the course package and the release notebooks from "
        "(<course>/colab.json); `cnn-course release` then adds the Colab setup cell and the "
        "Open in Colab badge to every release notebook. With no setting given, print the "
        "current ones; settings not given keep their value; an empty value (--data '') "
        "removes one."
    )
    colab.add_argument("--package", metavar="SPEC", help="pip requirement: git, wheel URL")
    colab.add_argument("--notebooks", metavar="URL", help="GitHub folder of the releases")
    colab.add_argument("--data", metavar="URL", help="zip or tar archive of data/ (optional)")

    demo = command("demo")
    demo.add_argument(
        "--jobs", type=_positive_int, metavar="N", help="notebooks graded at once (default: auto)"
    )
    return parser


def _existing_course(args) -> Course:
    """The course of a command that needs one already set up (collect, grade, ...)."""
    course = Course(args.course)
    if not course.root.is_dir():
        raise CourseError(
            f"no course directory at {course.root}. Run `cnn-course release` there first, or "
            "pass the right one with --course DIR."
        )
    return course


def _command_line(args, command: str) -> str:
    """`cnn-course COMMAND`, with --course when the course is not the default one."""
    if Path(args.course) == Path(DEFAULT_COURSE):
        return f"cnn-course {command}"
    return f"cnn-course --course {args.course} {command}"


def _run_release(args) -> int:
    from autograder.build import release

    course = Course(args.course)
    released = release(course, args.assignments or None, source=args.source, out=args.out)
    print(
        f"{len(released)} assignment(s) released in {course.release_dir}. Next: hand out the "
        f"release notebooks; when submissions are in, run `{_command_line(args, 'collect SRC')}`."
    )
    return 0


def _run_collect(args) -> int:
    from autograder.collect import collect

    report = collect(_existing_course(args), args.src, force=args.force)
    for line in report.lines():
        print(line)
    if report.submissions:
        print(f"Next: `{_command_line(args, 'autograde')}`.")
    return 0 if report.ok else 1


def _run_autograde(args) -> int:
    from autograder.grade import autograde

    limits = None
    if args.memory is not None:
        from autograder.isolation.sandbox import Limits

        limits = Limits(memory_bytes=int(args.memory * (1 << 30)))
    report = autograde(
        _existing_course(args),
        args.assignments or None,
        student=args.student,
        jobs=args.jobs,
        timeout=args.timeout,
        require_sandbox=args.require_sandbox,
        scheduler=args.scheduler,
        isolation=args.isolation,
        allow_unsandboxed=args.allow_unsandboxed,
        budget=args.budget,
        limits=limits,
        rerun_all_cells=args.rerun_all_cells,
    )
    print("protections:")
    for line in report.protections:
        print(f"  {line}")
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


def _run_feedback(args) -> int:
    from autograder.feedback import generate_feedback

    course = _existing_course(args)
    pages = generate_feedback(course, args.assignments or None, student=args.student)
    print(f"feedback: {len(pages)} page(s) written in {course.feedback_dir}")
    for page in pages:
        print(f"  {page}")
    return 0


def _run_export(args) -> int:
    from autograder.export import export_grades

    path = export_grades(_existing_course(args), to=args.to, detail=args.detail, layout=args.format)
    print(f"grades written to {path}")
    return 0


def _run_report(args) -> int:
    from autograder.report import write_reports

    pages = write_reports(_existing_course(args), args.assignments or None, out=args.out)
    print(f"report: {len(pages)} page(s), each with its .json beside it")
    for page in pages:
        print(f"  {page}")
    return 0


def _run_check(args) -> int:
    from autograder.selfcheck import DEFAULT_TIMEOUT, check_notebook

    card = check_notebook(args.notebook, timeout=args.timeout or DEFAULT_TIMEOUT)
    return 0 if card.ok else 1


def _run_colab(args) -> int:
    from dataclasses import asdict

    from autograder.colab import ColabConfig, read_config, write_config

    current = read_config(args.course)
    given = {"package": args.package, "notebooks": args.notebooks, "data": args.data}
    changes = {key: value or None for key, value in given.items() if value is not None}
    if changes:
        try:
            path = write_config(args.course, ColabConfig(**{**asdict(current), **changes}))
        except ValueError as error:
            raise UsageError(str(error)) from None
        current = read_config(args.course)
        print(
            f"Colab settings written to {path}. Run `{_command_line(args, 'release')}` to apply them."
        )
    for key, value in asdict(current).items():
        print(f"  {key}: {value if value is not None else '(not set)'}")
    return 0


def _run_demo(args) -> int:
    from autograder.demo import run_demo

    return run_demo(course_dir=args.course, jobs=args.jobs, out=print)


_RUNNERS = {
    "release": _run_release,
    "collect": _run_collect,
    "autograde": _run_autograde,
    "feedback": _run_feedback,
    "export": _run_export,
    "report": _run_report,
    "check": _run_check,
    "colab": _run_colab,
    "demo": _run_demo,
}


def skip_the_unused_iri_checker() -> None:
    """Keep jsonschema from importing `rfc3987_syntax` in this process, when nothing has yet.

    nbformat validates notebooks with jsonschema, whose format checkers import `rfc3987_syntax`
    where it is installed (nbformat's dependencies install it). That import builds some thirty
    parsers: 1.5 s of every command on a 2-core machine, for the formats "iri" and
    "iri-reference", which no notebook schema uses. Marked missing, jsonschema leaves those two
    formats unchecked, and every other check of a notebook is as before.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # None: `import` raises ImportError


def main(argv: list[str] | None = None) -> int:
    """Run `cnn-course` with `argv` (default: the process arguments); return the exit status."""
    skip_the_unused_iri_checker()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        print("\ncnn-course: error: name a command, e.g. `cnn-course release`.", file=sys.stderr)
        return 2
    if args.command != "demo" and args.course is None:
        args.course = DEFAULT_COURSE
    if args.course is not None:
        args.course = str(Path(args.course).expanduser())
    try:
        return _RUNNERS[args.command](args)
    except UsageError as error:
        print(f"cnn-course {args.command}: error: {error}", file=sys.stderr)
        return 2
    except CourseError as error:
        print(f"cnn-course {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"cnn-course {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
