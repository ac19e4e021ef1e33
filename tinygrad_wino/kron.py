# kron(): the one n-mode matrix product that builds every winograd transform (XHAT, GHAT and the output).
from __future__ import annotations
from typing import Callable
from tinygrad_wino.matrices import Matrix
from tinygrad_wino.tg import UOp, Ops, DType

def _selects(row:UOp, mat:Matrix, dtype:DType) -> list[UOp]|None:
  # a symbolic row's coefficient in each column of mat, selected among the column's nonzero entries: made once a kron call (every
  # product of the modes after this one multiplies by it), each row.eq(i) once for all the columns. None for a constant row.
  if row.op is Ops.CONST: return None
  eqs, ret = [row.eq(i) for i in range(len(mat))], []
  for column in zip(*mat):
    coefficient = UOp.const(0.0, dtype)
    for i, c in reversed(list(enumerate(column))):
      if c != 0: coefficient = eqs[i].where(UOp.const(float(c), dtype), coefficient)
    ret.append(coefficient)
  return ret

def _coefficient_times(row:UOp, column:tuple, select:UOp|None, x:UOp) -> UOp:
  # column[row] * x, without materializing the column: a constant row picks its entry here; a symbolic row multiplies by its
  # select (_selects) once. The transform rows of XHAT and GHAT get upcast, as does the output's p % m where p's size is a
  # multiple of m, and there the select folds into plain arithmetic.
  if select is None: return x if (c:=column[row.arg]) == 1 else -x if c == -1 else x * UOp.const(float(c), x.dtype)
  return select * x

def _kron(value_at:Callable[[tuple[int, ...]], UOp], mats:tuple[Matrix, ...], rows:tuple[UOp, ...], dtype:DType,
          selects:list[list[UOp]|None]) -> UOp:
  if not mats: return value_at(())
  row, columns, sel = rows[0], list(zip(*mats[0])), selects[0]
  def rest(j:int) -> UOp: return _kron(lambda js: value_at((j,) + js), mats[1:], rows[1:], dtype, selects[1:])
  terms = [_coefficient_times(row, col, None if sel is None else sel[j], rest(j))
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
  return _kron(value_at, mats, rows, dtype, [_selects(row, mat, dtype) for row, mat in zip(rows, mats)])
