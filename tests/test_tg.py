# tg.py's helpers that the rewrite builds on beyond tinygrad's own API.
import itertools
import pytest
import tinygrad_wino
import tinygrad_wino.rules as rules
from tinygrad import Tensor, Context
from tinygrad_wino.tg import UOp, AxisType, gated_substitute, simplify_loads, simplify_each

def _conv(monkeypatch, padding:int) -> rules.Conv:
  seen, rewrite = [], rules._rewrite
  monkeypatch.setattr(rules, "_rewrite", lambda ctx, conv: seen.append(conv) or rewrite(ctx, conv))
  with tinygrad_wino.using("new"), Context(SCACHE=0): Tensor.randn(2, 3, 9, 9).conv2d(Tensor.randn(4, 3, 3, 3), padding=padding).schedule_linear()
  return seen[0]

def _positions(conv:rules.Conv) -> list[UOp]:
  # the conv's input at every position of its tiles, as XHAT reads it: o = t*4 + j, the taps at 0
  tiles = [UOp.range(3, 1000 + i, AxisType.WEAK) for i in range(2)]
  return [gated_substitute(conv.act, dict(zip(conv.outs, [t * 4 + j for t, j in zip(tiles, js)])) | {k: UOp.const(0) for k in conv.taps})
          for js in itertools.product(range(6), repeat=2)]

@pytest.mark.parametrize("padding", [0, 1, 3])
def test_simplify_each_is_simplify_loads_of_each(monkeypatch, padding):
  srcs = _positions(_conv(monkeypatch, padding))
  each = simplify_each(srcs)
  assert len(each) == len(set(each)) == len(srcs) and all(a is b for a, b in zip(each, [simplify_loads(u) for u in srcs]))
  # with padding the gates fold away at some positions (the input's inside) and stay at others
  assert padding == 0 or len({u.op for u in each}) == 2

def test_simplify_each_without_gates_cancels_a_tap_in_the_index_math(monkeypatch):
  # rules._tap_pairs: an output o written as s - k for its own tap k leaves no k in the input's index nor gates; for another tap it does
  conv = _conv(monkeypatch, 1)
  (o0, o1), (k0, k1) = conv.outs, conv.taps
  moved = [gated_substitute(conv.act, {o: rules._placeholder(o, k, 0) - k}) for o, k in ((o0, k0), (o1, k1), (o0, k1), (o1, k0))]
  assert [k in u.ranges for u, k in zip(simplify_each(moved, gates=False), (k0, k1, k1, k0))] == [False, False, True, True]

def test_simplify_each_keeps_one_result_a_source():
  # a source that is a SINK itself stays one entry, each simplified as simplify_loads alone does
  a, b = UOp.const(1) + UOp.const(2), UOp.const(3) * UOp.const(1)
  each = simplify_each([UOp.sink(a, b), a, b])
  assert len(each) == 3 and all(x is y for x, y in zip(each, [simplify_loads(UOp.sink(a, b)), UOp.const(3), UOp.const(3)]))
