"""Winograd F(m x m, 3 x 3) convolutions for tinygrad as a rewrite rule of the rangeified UOp graph.

WINO=1 selects this rewrite (NEW), WINO_OLD=1 tinygrad's tensor-level winograd (OLD), neither the direct convolution.
"""
from tinygrad_wino.flags import check_environment
check_environment()  # before tinygrad parses the same variables
from tinygrad_wino.toggle import Mode, enable, using, mode, stats, install  # noqa: E402
from tinygrad_wino.rules import match_conv  # noqa: E402

install()
__version__ = "0.1.0"
__all__ = ["Mode", "enable", "using", "mode", "stats", "match_conv"]
