# examples/resnet18.py end to end at a tiny size: forward and one training step under direct and NEW, outputs and gradients
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

@pytest.mark.parametrize("groups", [1, 2])
def test_resnet18_forward_and_training_step(resnet18, capsys, groups):
  # OLD's rows are reported, not judged: left out here. With groups the blocks' 3x3 convs are grouped, each followed by a batchnorm
  # (rules' group split)
  assert resnet18.main(["--batch", "2", "--size", "16", "--width", "4", "--groups", str(groups), "--runs", "1",
                         "--steps", "forward,train", "--modes", "new", "--no-cold"]) == 0
  out = capsys.readouterr().out
  # the forward pass rewrites all 14 3x3 stride-1 convs; the training step adds their weight gradients
  assert "| forward | new |" in out and "| 14 |" in out and "FAILED" not in out

@pytest.mark.slow  # six captures and 15 calls of the network (1.5 minutes on 2 cores); tests/test_jit.py and test_toggle.py prove it of one conv
def test_resnet18_forward_under_tinyjit_prunes_the_weight_transforms_and_plain_calls_reuse_the_schedule(resnet18, capsys):
  assert resnet18.main(["--batch", "2", "--size", "16", "--width", "4", "--runs", "1", "--steps", "jit,jit-prune,calls"]) == 0
  rows = {tuple(c.strip() for c in line.split("|")[1:3]): line.split("|") for line in capsys.readouterr().out.splitlines()
          if line.startswith("| forward, ")}
  # the plain calls after the first take their schedule from tinygrad's cache: the rule runs on none of them
  assert rows[("forward, plain calls (wall ms a call)", "new")][6].strip() == "14 (later calls 0)"
  kernels = {k: int(v[5]) for k, v in rows.items() if "TinyJit" in k[0]}
  # NEW rewrote the 14 convs; prune leaves each one's weight transform (NEW's and OLD's GHAT) out of the replays
  assert rows[("forward, TinyJit", "new")][6].strip() == "14"
  assert kernels[("forward, TinyJit", "new")] - kernels[("forward, TinyJit(prune=True)", "new")] == 14
  assert kernels[("forward, TinyJit", "old")] - kernels[("forward, TinyJit(prune=True)", "old")] == 14
