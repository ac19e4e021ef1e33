import pathlib, sys
import pytest
from tinygrad import Context
import tinygrad_wino  # noqa: F401  (defines the WINO_* context variables)
# the tests import their helpers by name
sys.path.insert(0, str(pathlib.Path(__file__).parent))

@pytest.fixture(autouse=True)
def every_eligible_conv(request):
  # the suite proves the rewrite on convs small enough to test quickly, which the cost model would leave direct: it is off unless a
  # test is marked cost_model (those run as a user does)
  if request.node.get_closest_marker("cost_model"): yield
  else:
    with Context(WINO_COST=0): yield
