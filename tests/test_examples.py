# examples/resnet18.py end to end at a tiny size: forward and one training step under direct, OLD and NEW, outputs and gradients
# checked against direct conv by the script itself (exit status 1 on a mismatch, or if NEW rewrote nothing).
import pathlib, sys
import pytest

EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"

@pytest.fixture
def resnet18():
  sys.path.insert(0, str(EXAMPLES))
  import resnet18
  yield resnet18
  sys.path.remove(str(EXAMPLES))

def test_resnet18_forward_and_training_step(resnet18, capsys):
  assert resnet18.main(["--batch", "2", "--size", "16", "--width", "4", "--runs", "1"]) == 0
  out = capsys.readouterr().out
  # the forward pass rewrites all 14 3x3 stride-1 convs; the training step adds their weight gradients
  assert "| forward | new |" in out and "| 14 |" in out and "FAILED" not in out
