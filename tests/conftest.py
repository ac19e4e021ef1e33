import pathlib, sys
# the tests import their helpers by name
sys.path.insert(0, str(pathlib.Path(__file__).parent))
