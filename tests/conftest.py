import pathlib, sys
import pytest
from tinygrad import Context
import tinygrad_wino  # noqa: F401  (defines the WINO_* context variables)
from tinygrad_wino import tg
# the tests import their helpers by name
sys.path.insert(0, str(pathlib.Path(__file__).parent))

@pytest.fixture(autouse=True)
def cost_model(request):
  # WINO=1 rewrites every eligible conv; tests marked cost_model run with WINO_COST=1, where it keeps small convs direct
  with Context(WINO_COST=int(request.node.get_closest_marker("cost_model") is not None)): yield

@pytest.fixture(autouse=True)
def fresh_schedules():
  # the rule runs only where a graph is scheduled, and tinygrad's schedule cache serves a graph an earlier test scheduled: a test
  # that counts rewrites must not depend on which tests ran before it in its process (make test spreads them over processes)
  tg.clear_schedules()
