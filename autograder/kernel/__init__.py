"""What runs beside the student's code while a notebook is graded, and nothing else: the wire
(``wire``), the kernel's main loop (``main``), the measurements of the student's objects
(``measure``) and the rules a NumPy exercise follows (``rules``). The sandbox ships exactly this
package; it imports nothing else of the autograder.
"""
