# kron(): the n-mode product behind every transform, checked against numpy on constant sources, for constant rows (the
# upcast transform positions) and for symbolic rows (the output transform's o % m).
import itertools
import numpy as np
import pytest
from tinygrad_wino.kron import kron
from tinygrad_wino.matrices import cook_toom
from tinygrad_wino.tg import UOp, Ops, dtypes

def as_np(mat): return np.array([[float(x) for x in row] for row in mat])

def evaluate(u:UOp, binds:dict[UOp, int]) -> float:
  ret = u.substitute({k: UOp.const(v) for k, v in binds.items()}).simplify()
  assert ret.op is Ops.CONST, f"did not fold to a constant: {ret}"
  return float(ret.arg)

@pytest.mark.parametrize("nd", [1, 2, 3])
def test_kron_matches_numpy_nmode_product(nd):
  w, rng = cook_toom(4), np.random.default_rng(nd)
  src = rng.integers(-8, 8, size=(w.alpha,) * nd).astype(np.float64)
  ref = src
  for i in range(nd): ref = np.moveaxis(np.tensordot(as_np(w.Bt), np.moveaxis(ref, i, 0), axes=(1, 0)), 0, i)
  rows = tuple(UOp.variable(f"a{i}", 0, w.alpha - 1) for i in range(nd))
  out = kron(lambda j: UOp.const(float(src[j]), dtypes.float64), (w.Bt,) * nd, rows, dtypes.float64)
  for a in itertools.product(range(w.alpha), repeat=nd):
    assert evaluate(out, dict(zip(rows, a))) == pytest.approx(ref[a])

def test_kron_constant_rows_fold_without_selects():
  w = cook_toom(4)
  src = {j: UOp.variable(f"v{j[0]}_{j[1]}", -100, 100, dtypes.float64) for j in itertools.product(range(w.alpha), repeat=2)}
  out = kron(lambda j: src[j], (w.At, w.At), (UOp.const(1), UOp.const(2)), dtypes.float64)
  assert not any(u.op is Ops.WHERE for u in out.toposort()), "constant rows must pick coefficients directly"

def test_kron_skips_zero_coefficients():
  w = cook_toom(4)
  loads = []
  def value_at(j):
    loads.append(j)
    return UOp.variable(f"v{j[0]}", -1, 1, dtypes.float64)
  kron(value_at, (w.At,), (UOp.const(0),), dtypes.float64)
  assert sorted(loads) == [(j,) for j, c in enumerate(w.At[0]) if c != 0]
