"""mbtspec's mutant benchmark: a lending library with seeded defects (see ``service.py``),
their known minimal sequences (``defects.py``), and the runner behind ``bench/mutants.py``."""
