# kron(): the one n-mode matrix product that builds every winograd transform (XHAT, GHAT and the output).
from __future__ import annotations
from typing import Callable
from tinygrad_wino.matrices import Matrix
from tinygrad_wino.tg import UOp, Ops, DType

def _coefficient_times(row:UOp, j:int, column:tuple, x:UOp, selects:dict) -> UOp:
  # column[row] * x, without materializing the column: a constant row picks its entry here; a symbolic row selects the
  # coefficient among the column's nonzero entries, then multiplies once. The transform rows of XHAT and GHAT get upcast, as does
  # the output's p % m where p's size is a multiple of m, and there the select folds into plain arithmetic. selects keeps a
  # symbolic row's comparisons and column j's select, which every product of the modes after it multiplies by.
  if row.op is Ops.CONST: return x if (c:=column[row.arg]) == 1 else -x if c == -1 else x * UOp.const(float(c), x.dtype)
  if (coefficient:=selects.get((j, x.dtype))) is None:
    coefficient = UOp.const(0.0, x.dtype)
    for i, c in reversed(list(enumerate(column))):
      if c == 0: continue
      if i not in selects: selects[i] = row.eq(i)
      coefficient = selects[i].where(UOp.const(float(c), x.dtype), coefficient)
    selects[(j, x.dtype)] = coefficient
  return coefficient * x

def _kron(value_at:Callable[[tuple[int, ...]], UOp], mats:tuple[Matrix, ...], rows:tuple[UOp, ...], dtype:DType, selects:list[dict]) -> UOp:
  if not mats: return value_at(())
  row, columns = rows[0], list(zip(*mats[0]))
  terms = [_coefficient_times(row, j, col, _kron(lambda js, j=j: value_at((j,) + js), mats[1:], rows[1:], dtype, selects[1:]), selects[0])
           for j, col in enumerate(columns) if (col[row.arg] if row.op is Ops.CONST else any(col))]
  return sum(terms[1:], terms[0]) if terms else UOp.const(0.0, dtype)

def kron(value_at:Callable[[tuple[int, ...]], UOp], mats:tuple[Matrix, ...], rows:tuple[UOp, ...], dtype:DType,
         first_mode_first:bool=False) -> UOp:
  """The n-mode product sum_j prod_i mats[i][rows[i], j_i] * value_at(j).

  `value_at(j)` is the source at the integer position j (one int per mode). `rows[i]` indexes the rows of `mats[i]`: a range
  of the buffer being built (XHAT, GHAT) or an index expression of the consumer (the output transform). The modes are
  contracted one after another, so a separable 2-D transform costs 2*6*6 terms per tile, not 36*36, and a source whose
  coefficients are all zero is never built. The last mode is contracted first (from the values), or with first_mode_first the
  first: the partial sums of the mode contracted first are what neighbours along the other modes can share."""
  if first_mode_first: return kron(lambda j: value_at(j[::-1]), mats[::-1], rows[::-1], dtype)
  return _kron(value_at, mats, rows, dtype, [{} for _ in rows])
