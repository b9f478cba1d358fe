"""``python -m autograder.kernel SOCKET_FD INTERRUPT_FD``: the grading kernel (see ``main``)."""

from autograder.kernel.main import main

main()
