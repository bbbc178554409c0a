"""Settings for the whole test suite."""

from hypothesis import settings

# Property tests check what holds, not how fast: on a shared, busy machine (CI included) an
# example may take longer than Hypothesis' default 200 ms deadline without anything being wrong.
# Speed is measured in bench/, not in tests.
settings.register_profile("mbtspec-tests", deadline=None)
settings.load_profile("mbtspec-tests")
