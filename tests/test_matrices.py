# The Cook-Toom generator: every F(m,3) it makes computes the correlation exactly (in rationals), and F(4,3) on tinygrad's
# points reproduces tinygrad's own matrices.
import random
from fractions import Fraction
import pytest
from tinygrad_wino.matrices import POINTS, cook_toom

def matvec(m, v): return [sum(a * b for a, b in zip(row, v)) for row in m]

@pytest.mark.parametrize("m", sorted(POINTS))
def test_cook_toom_is_exact_correlation(m):
  w, rnd = cook_toom(m), random.Random(m)
  for _ in range(5):
    d = [Fraction(rnd.randint(-50, 50), rnd.randint(1, 9)) for _ in range(w.alpha)]
    g = [Fraction(rnd.randint(-50, 50), rnd.randint(1, 9)) for _ in range(w.r)]
    out = matvec(w.At, [a * b for a, b in zip(matvec(w.G, g), matvec(w.Bt, d))])
    assert out == [sum(d[i + k] * g[k] for k in range(w.r)) for i in range(m)]

@pytest.mark.parametrize("m", sorted(POINTS))
def test_shapes(m):
  w = cook_toom(m)
  assert (len(w.At), len(w.At[0]), len(w.G), len(w.G[0]), len(w.Bt), len(w.Bt[0])) == (m, m + 2, m + 2, 3, m + 2, m + 2)

def test_tinygrad_points_give_tinygrad_matrices():
  w = cook_toom(4, 3, tuple(Fraction(p) for p in (0, 1, -1, 2, -2)))
  F = Fraction
  G = [[F(1, 4), 0, 0], [F(-1, 6), F(-1, 6), F(-1, 6)], [F(-1, 6), F(1, 6), F(-1, 6)], [F(1, 24), F(1, 12), F(1, 6)], [F(1, 24), F(-1, 12), F(1, 6)],
       [0, 0, 1]]
  Bt = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
  At = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]
  assert [list(r) for r in w.G] == G and [list(r) for r in w.Bt] == Bt and [list(r) for r in w.At] == At

def test_bad_points_are_refused():
  with pytest.raises(ValueError, match="distinct"): cook_toom(4, 3, tuple(Fraction(p) for p in (0, 1, 1, 2, -2)))
