"""The learning-rule demonstrations' task environments: data sets that bring their own metric,
rewards or episodes (task.py), each registered as a data set when this package is imported.
The trainer and `specc run --data` import it, so their names resolve like the readers'."""
from . import glyphs, associative, maze, retina, thumos  # noqa: F401  (registration order)
