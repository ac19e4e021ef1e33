# What NEW must leave alone: the same kernels as without the flag, and no rewrite counted.
import numpy as np
import pytest
import tinygrad_wino
from tinygrad import Tensor, Context, dtypes
from tinygrad_wino.tg import Ops

def kernels(make) -> tuple[list[bytes], list[str]]:
  tinygrad_wino.stats.reset()
  with Context(SCACHE=0):
    linear = make().schedule_linear()
  return [c.src[0].key for c in linear.src if c.op is Ops.CALL], list(tinygrad_wino.stats.rewritten)

rng = np.random.default_rng(0)
def t(*shape, dtype=dtypes.float32): return Tensor(rng.standard_normal(shape).astype(np.float32)).cast(dtype).realize()
X, W3, X1 = t(2, 4, 10, 10), t(5, 4, 3, 3), t(2, 4, 12)

INELIGIBLE = {
  "stride_2": lambda: X.conv2d(W3, stride=2, padding=1),
  "stride_1x2": lambda: X.conv2d(W3, stride=(1, 2), padding=1),
  "dilation_2": lambda: X.conv2d(W3, dilation=2, padding=2),
  "dilation_2x1": lambda: X.conv2d(W3, dilation=(2, 1), padding=1),
  # every tap of the dilated kernel lands in the padding (tests/test_fuzz.py found it): the conv is 0
  "dilation_2_all_padding": lambda: t(1, 1, 1, 5).conv2d(t(1, 1, 3, 3), dilation=2, padding=(0, 1, 1, 3)),
  "kernel_5x5": lambda: X.conv2d(t(5, 4, 5, 5), padding=2),
  "kernel_3x5": lambda: X.conv2d(t(5, 4, 3, 5), padding=1),
  "kernel_1x1": lambda: X.conv2d(t(5, 4, 1, 1)),
  "kernel_2x2": lambda: X.conv2d(t(5, 4, 2, 2)),
  "conv1d_kernel_5": lambda: X1.conv2d(t(3, 4, 5)),
  "int32": lambda: X.cast(dtypes.int32).conv2d(W3.cast(dtypes.int32), padding=1),
  "bool": lambda: (X > 0).conv2d(W3 > 0, padding=1),
  "matmul": lambda: t(16, 24) @ t(24, 8),
  "avg_pool_3x3_stride_1": lambda: X.avg_pool2d(3, stride=1),
  "max_pool_3x3_stride_1": lambda: X.max_pool2d(3, stride=1),
  "sum": lambda: X.sum(axis=(2, 3)),
}

@pytest.mark.parametrize("name", INELIGIBLE)
def test_untouched(name):
  direct, none = kernels(INELIGIBLE[name])
  with tinygrad_wino.using("new"): new, rewrites = kernels(INELIGIBLE[name])
  assert not none and not rewrites, f"NEW rewrote an ineligible reduce: {rewrites}"
  assert new == direct, "NEW changed the kernels of an ineligible op"

def test_eligible_conv_changes_the_kernels():
  # the comparison above can fail: on an eligible conv the kernels differ
  make = lambda: X.conv2d(W3, padding=1)  # noqa: E731
  direct, _ = kernels(make)
  with tinygrad_wino.using("new"): new, rewrites = kernels(make)
  assert len(rewrites) == 1 and new != direct
