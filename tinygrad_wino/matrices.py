# Winograd F(m, r) transform matrices from one Cook-Toom generator, in exact rational arithmetic.
# F(m, r) computes m outputs of an r-tap correlation from alpha = m+r-1 inputs: y = At @ ((G @ g) * (Bt @ d)).
# With the points p_0..p_{alpha-2} and infinity, V_k is the alpha x k Vandermonde matrix (row j = [1, p_j, .., p_j^(k-1)],
# the infinity row = [0, .., 0, 1]). Linear convolution is s = V_alpha^-1 ((V_r g) * (V_m h)); correlation is its transpose
# in h: At = V_m^T, G = V_r, Bt = V_alpha^-T. A diagonal scaling moves between G and Bt: we divide row j of G by
# f_j = prod_{l!=j}(p_j - p_l), as tinygrad's matrices do, which keeps Bt integral for integer points.
from __future__ import annotations
import functools
from dataclasses import dataclass
from fractions import Fraction

Matrix = tuple[tuple[Fraction, ...], ...]

# interpolation points per output tile size m (r = 3); infinity is always the last point. For F(4,3), tinygrad's points are
# 0, 1, -1, 2, -2; replacing -2 by -1/2 (Barabasz et al. 2020, "Error analysis and improving the accuracy of Winograd
# convolution for deep neural networks") halves the error, in float32 and with XHAT/GHAT stored in half (bench/numerics.py).
POINTS: dict[int, tuple[Fraction, ...]] = {
  2: (Fraction(0), Fraction(1), Fraction(-1)),
  4: (Fraction(0), Fraction(1), Fraction(-1), Fraction(2), Fraction(-1, 2)),
  6: (Fraction(0), Fraction(1), Fraction(-1), Fraction(2), Fraction(-2), Fraction(1, 2), Fraction(-1, 2)),
}

@dataclass(frozen=True)
class Winograd:
  m: int          # outputs per tile and dim
  r: int          # kernel taps per dim
  points: tuple[Fraction, ...]
  At: Matrix      # m x alpha, output transform
  G: Matrix       # alpha x r, weight transform
  Bt: Matrix      # alpha x alpha, input transform
  @property
  def alpha(self) -> int: return self.m + self.r - 1

def _vandermonde(points:tuple[Fraction, ...], k:int) -> list[list[Fraction]]:
  return [[p**i for i in range(k)] for p in points] + [[Fraction(int(i == k-1)) for i in range(k)]]

def _inverse(a:list[list[Fraction]]) -> list[list[Fraction]]:
  n = len(a)
  aug = [row[:] + [Fraction(int(i == j)) for j in range(n)] for i, row in enumerate(a)]
  for col in range(n):
    piv = next(i for i in range(col, n) if aug[i][col] != 0)
    aug[col], aug[piv] = aug[piv], aug[col]
    aug[col] = [x / aug[col][col] for x in aug[col]]
    for i in range(n):
      if i != col and aug[i][col] != 0: aug[i] = [x - aug[i][col] * y for x, y in zip(aug[i], aug[col])]
  return [row[n:] for row in aug]

@functools.cache
def cook_toom(m:int, r:int=3, points:tuple[Fraction, ...]|None=None) -> Winograd:
  pts = POINTS[m] if points is None else points
  alpha = m + r - 1
  if len(pts) != alpha - 1 or len(set(pts)) != len(pts): raise ValueError(f"F({m},{r}) needs {alpha-1} distinct finite points, got {pts}")
  f = [functools.reduce(lambda acc, q: acc * (p - q), [q for q in pts if q != p], Fraction(1)) for p in pts] + [Fraction(1)]
  vm, vr, va_inv = _vandermonde(pts, m), _vandermonde(pts, r), _inverse(_vandermonde(pts, alpha))
  At = tuple(tuple(vm[j][i] for j in range(alpha)) for i in range(m))
  G = tuple(tuple(x / f[j] for x in vr[j]) for j in range(alpha))
  Bt = tuple(tuple(va_inv[i][j] * f[j] for i in range(alpha)) for j in range(alpha))
  return Winograd(m, r, pts, At, G, Bt)

TILE_SIZES = tuple(POINTS)
