"""What students import: reference layers, gradient checking, the NumPy-to-autograd bridge,
device choice and seeding, data, a training loop, plots and the convolution explorer.

Submodules are imported on use (``from course_utils import data``), so that importing the
package stays fast and a missing optional piece (ipywidgets in a bare kernel) never stops
the rest from working.
"""

__version__ = "0.1.0"
