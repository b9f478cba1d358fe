"""Grading out of the student's process: the sandbox a student's kernel runs in
(``sandbox``), the grader's client of that kernel (``client``), what the grader reads from the
notebook's source (``source``), how the checks see proxies of the student's functions
(``proxies``), and the grading of one notebook, test cell by test cell (``verdicts``).
"""
