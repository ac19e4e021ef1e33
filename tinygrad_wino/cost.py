# The cost model: does winograd pay for this conv? Each side is estimated as the time of its kernels: a fixed cost per kernel
# plus the multiply-adds at a measured rate plus, for winograd, a measured cost per element of each transform. Direct conv is one
# kernel; winograd is four (XHAT, GHAT, MHAT and the output transform). The fixed cost is what sinks winograd on small convs
# (4 kernels of ~10 us against one on the H100), the transforms sink it where the channels are few (depthwise, Cin or Cout of 1
# to 3: a transform element costs more than the multiply-adds it saves), and on the rest the 4x fewer multiply-adds win.
# On a GPU, direct conv on a small output does not fill the device: its time is then set by the multiply-adds one thread does in
# sequence (Cin*9 per output), not by the total: a (1,128,128,16) conv takes 97 us there against 10 us at the full-device rate.
from __future__ import annotations
from dataclasses import dataclass

@dataclass(frozen=True)
class Work:
  """The sizes the estimate needs, in elements and multiply-adds; `half` says XHAT and GHAT are stored in half."""
  direct_macs: int  # direct conv: one multiply-add per output element, kernel tap and reduced channel
  reduce_len: int   # direct conv's multiply-adds per output element (kernel taps x reduced channels)
  mhat_macs: int    # the Hadamard products: alpha^n per tile, output channel and reduced channel
  xhat: int         # elements of the input transform (XHAT)
  tile_in: int      # input elements XHAT's tiles cover (tiles x m^n x channels), alpha^n / m^n of XHAT's elements
  ghat: int         # elements of the weight transform (GHAT)
  out: int          # elements of the conv's output, each one output transform
  half: bool
  width: int = 0    # a forward conv's innermost output size (0: a weight gradient), which sets direct conv's rate on a CPU

@dataclass(frozen=True)
class Device:
  """Measured costs of one device class (seconds, and multiply-adds per second)."""
  name: str
  kernel_s: float        # fixed cost of one kernel
  direct_rate: float     # multiply-adds per second of tinygrad's direct conv
  direct_rate_odd: float  # of direct conv whose output width 4 doesn't divide
  direct_rate_small: float  # of a forward direct conv of at most SMALL_OUTPUT outputs
  mhat_rate: float       # of MHAT's batched matmul, float32 buffers
  mhat_rate_half: float  # of MHAT with half buffers (tensor cores on a GPU)
  xhat_s: float          # per float32 XHAT element stored (half buffers: half of it)
  xhat_in_s: float       # per input element XHAT transforms (tile_in)
  ghat_s: float          # per GHAT element
  out_s: float           # per output element
  out_select_s: float    # per output element where each output selects its transform coefficients (no whole tiles)
  copy_s: float          # per element of an elementwise copy
  serial_s: float        # per multiply-add of one output's reduce: direct conv's time on an output too small to fill the device
  def winograd_s(self, w:Work) -> float:
    scale = 0.5 if w.half else 1.0
    return (4 * self.kernel_s + w.mhat_macs / (self.mhat_rate_half if w.half else self.mhat_rate) + w.xhat * self.xhat_s * scale
            + w.tile_in * self.xhat_in_s + w.ghat * self.ghat_s * scale + w.out * self.out_s)
  def direct_s(self, w:Work) -> float:
    rate = self.direct_rate_small if w.width and w.out <= SMALL_OUTPUT else self.direct_rate if w.width % 4 == 0 else self.direct_rate_odd
    return self.kernel_s + max(w.direct_macs / rate, w.reduce_len * self.serial_s)

# GPU: fitted to per-kernel times on the H100 (NEW's four kernels and direct conv, 7 shapes x float32 and float16, and 11 smaller
# ones; measured before XHAT's threads ran along the tiles: its XHAT cost is refitted below); tests/test_cost.py checks the choices
# against the sweeps committed in bench/results. Tiny kernels take 10-17 us each on the H100; direct conv runs at 1-7 TMAC/s there
# (4 taken) or 75-100 ns per multiply-add of one output (80 taken). MHAT runs at 7-10 (float32) and 17-23 (half) TMAC/s.
# XHAT's element cost was 15 ps in that fit; since XHAT's threads run along the tiles it takes 1.6-6.3 ps in the H100 sweeps
# (bench/results/h100-grouped{32,4}-2026-12-07.md), and at 15 the model kept three grouped convs direct that
# winograd ran at 0.43-0.95 of direct's time. Every committed H100 sweep's decisions agree for 2-4 ps (tests/test_cost.py): 3 taken.
GPU = Device("GPU (fitted on an H100)", kernel_s=10e-6, direct_rate=4e12, direct_rate_odd=4e12, direct_rate_small=4e12, mhat_rate=10e12,
             mhat_rate_half=20e12, xhat_s=3e-12, xhat_in_s=0.0, ghat_s=2.5e-12, out_s=10e-12, out_select_s=10e-12, copy_s=2e-12,
             serial_s=80e-9)
# CPU: fitted to the per-kernel times of 26 convs on a 2-core AMD EPYC (Zen 3; bench/results/cpu-2026-12-07, cpu-grouped{32,4}-2026-12-07
# and cpu-crossover-2026-12-07). NEW's kernels of the smallest convs take 3-5 us each (2 taken). Direct conv runs at 7.3-9.0 GMAC/s
# where 4 divides the output width (tinygrad's heuristic upcasts it by 4; 8 taken; one 4.9), at 3.1-3.4 with at most 2048 outputs
# (four convs of widths 8 and 16; 3.5 taken) and at 2.7 (width 14) to 4.6-8.1 (width 7) elsewhere (3 taken). MHAT runs at 9-18
# GMAC/s with opts.py's register blocks at 8 or more channels (15 taken), 5.5-6.8 at 4 channels a group. XHAT's time follows the
# input it transforms, not the elements it stores (2.25x the input at F(4,3), 4x at F(2,3)): 2.9-5.2 ns an input element at both
# tile sizes (3.5 taken; 0.7-2.3 ns an XHAT element). The output transform takes 1.3-4.9 ns an output (3 taken), GHAT 0.4-1.4 ns an
# element (0.5 taken). The choices agree with all 26 convs, and with cpu-crossover-2026-11-25 (another machine, direct conv at up
# to 18 GMAC/s, winograd faster at all 8 shapes). The fit before (direct 17 GMAC/s, 20 us a kernel, 1.5 ns an XHAT element, from an
# older machine and older NEW kernels) kept direct at 9 of the 26 rows (8 shapes), where NEW ran 0.20-0.85 of direct's time.
CPU = Device("CPU (fitted on 2 x86 cores)", kernel_s=2e-6, direct_rate=8e9, direct_rate_odd=3e9, direct_rate_small=3.5e9, mhat_rate=15e9,
             mhat_rate_half=15e9, xhat_s=0.0, xhat_in_s=3.5e-9, ghat_s=0.5e-9, out_s=3e-9, out_select_s=20e-9, copy_s=1.7e-9, serial_s=0.0)
CPU_DEVICES = ("CPU", "CLANG", "LLVM")

# Below this many multiply-adds (direct conv's count) a conv takes F(2,3) rather than F(4,3). On the H100 such convs are
# launch-bound (four kernels of 10-13 us): in a same-call A/B F(2,3) ran 0-2 us from F(4,3) at (1,16,16,32) and (4,16,16,30) and
# up to 13 us slower at (1,32,32,16) (fp32 and fp16, 37-70 us in all). On 2 CPU cores F(2,3) was
# as fast or faster at (1,16,16,18), (4,16,16,30) and a grouped (4,15,35,5): its transforms do 2 terms a row where F(4,3)'s do
# 4-5. tinygrad's test_ops checks convs of this size against torch at atol 1e-6, which near-zero outputs meet at F(2,3)'s error
# (below direct conv's) and miss at F(4,3)'s or OLD's (bench/tolerance.py). The cost model's own F(2,3) estimates are not used
# here: on the H100 they ran low (at (8,512,512,7) it expected F(4,3) to save 9 us, and it saved 29 us).
SMALL_CONV_MACS = 2**24
# A forward direct conv of at most this many outputs runs at Device.direct_rate_small (on the CPU its rate drops below it)
SMALL_OUTPUT = 2048

def device_class(device:str|tuple[str, ...]) -> Device:
  name = (device[0] if isinstance(device, tuple) else device).split(":")[0].upper()
  return CPU if name in CPU_DEVICES else GPU

def tiled_output_pays(out:int, device:str|tuple[str, ...]) -> bool:
  """Whether the output transform over whole tiles, a kernel of its own that the consumer reads, pays for that kernel and copy."""
  dev = device_class(device)
  return dev.kernel_s + out * (dev.out_s + dev.copy_s) < out * dev.out_select_s

def decide(work:Work, device:str|tuple[str, ...]) -> tuple[bool, str]:
  """Whether winograd pays for this conv on `device`, and the estimate that says so."""
  dev = device_class(device)
  wino, direct = dev.winograd_s(work), dev.direct_s(work)
  return wino < direct, f"cost model ({dev.name}): winograd {wino*1e6:.1f} us, direct {direct*1e6:.1f} us"
