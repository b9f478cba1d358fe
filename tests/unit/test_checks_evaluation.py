"""The checks of notebook 07's anchors and detector evaluation pass the notebook's solutions and
fail every known mistake, naming it."""

from autograder.checks import check_generate_anchors
from tests.check_harness import fails_each_mistake, passes_the_solution
from tests.kernel_grading import grades_through_a_kernel
from tests.wrong import detection as wrong

FUNCTIONS = {"check_generate_anchors": ("generate_anchors",)}
MISTAKES = [
    (
        check_generate_anchors,
        (wrong.generate_anchors_ratio_inverted,),
        "generate_anchors/ratio_inverted",
    ),
    (check_generate_anchors, (wrong.generate_anchors_cell_corner,), "generate_anchors/cell_corner"),
    (
        check_generate_anchors,
        (wrong.generate_anchors_sizes_ratios_swapped,),
        "generate_anchors/sizes_ratios_swapped",
    ),
    (
        check_generate_anchors,
        (wrong.generate_anchors_column_major,),
        "generate_anchors/column_major",
    ),
]

test_check_passes_the_notebook_solution = passes_the_solution(
    "07_detection_segmentation", FUNCTIONS
)
test_check_fails_a_wrong_implementation_and_names_the_mistake = fails_each_mistake(MISTAKES)
test_through_a_kernel_the_checks_pass_the_solution_and_name_each_mistake = grades_through_a_kernel(
    "07_detection_segmentation", list(FUNCTIONS.items()), MISTAKES, wrong
)
