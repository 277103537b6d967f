"""Memory a generation request needs, checked before it starts.

    levels = generation.plan_levels(video.shape[:3], config, channels)
    memory.check_fits(levels, channels, batch=num, config=config)

`estimate_bytes` is the peak over levels of what stays resident while a
level runs: the input pyramid down to the next coarser level (the coarser
ones are freed once used), plus the level's keys, and for every variation
its queries, output and field, plus the larger working set of the level's
search (exact or PatchMatch) and of the median fold, or of the level's start
while the coarser output and field are still held. On CPU a fixed
cost for the process, its compilations and its compiled programs is added.
A level run in temporal windows (`Config.window_frames`, `windows=`)
searches and folds one window at a time: its queries, output, field and
working sets are a window's, next to the whole level's output and field being
assembled and the coarser output and field every window's start reads.
`fitting_windows` picks the windows with which a request too large to run
whole fits.

Each formula is read off the code (generation.py, pnn.py, nn.py, patches.py,
patchmatch.py), checked against XLA's buffer assignment of the compiled level
programs (`.compile().memory_analysis()`, dumps of the buffer assignment) and
against the peak resident memory of real runs (experiments/bench_memory.py).
The median fold is assumed (the mean fold needs less). When the engine
changes, rerun the benchmark.

`check_fits` refuses a request whose estimate exceeds `USABLE_FRACTION`
(85%) of the free memory: the estimate is an upper bound of what the arrays
and compilations need, not of what else the process and the machine take
meanwhile. `check_array_fits` refuses one array that could not fit (a
broadcast or memory-mapped input, an output size) before it is allocated.

Sizes are in bytes; arrays are float32 or int32 (4 bytes per value).
"""

import math
import os
from typing import NamedTuple, Sequence

import jax

from vgpnn_jax import errors
from vgpnn_jax import generation
from vgpnn_jax import patches
from vgpnn_jax import patchmatch as patchmatch_lib
from vgpnn_jax import pnn
from vgpnn_jax import sizes as sizes_lib

_VALUE = 4  # bytes per float32 / int32 value

# Fixed costs on CPU, measured with experiments/bench_memory.py (jax 0.10.2,
# 2 cores) and rounded up: Python, NumPy and the XLA client after a first op
# take 200 MiB. Generation compiles the levels on a pool of
# `generation.compile_workers` threads, and a compilation holds up to 280 MiB
# of transient heap for a PatchMatch level, 160 MiB for an exact one. Every
# level's compiled programs stay resident, with the heap they fragmented:
# about 45 MiB per PatchMatch level, 20 MiB per exact one. Runs vary by
# +-60 MiB.
_RUNTIME_BYTES = 250 * 2**20
_COMPILE_BYTES = {'patchmatch': 280 * 2**20, 'exact': 160 * 2**20}
_PROGRAM_BYTES = {'patchmatch': 45 * 2**20, 'exact': 20 * 2**20}

# The array formulas are within 0.95-1.3x of XLA's buffer assignment of the
# level programs (large levels 1.15x); this margin covers allocator slack and
# modest engine changes.
_SAFETY = 1.1

# A request is refused when its estimate exceeds this fraction of the free
# memory: the rest is left for what the estimate does not count (allocator
# fragmentation, other processes allocating meanwhile, the encoder writing the
# outputs). A run estimated at 21.7 GiB against 22.8 GiB free (95%) ended in
# std::bad_alloc. At extreme aspect ratios (bunny at 6x32x57 retargeted by
# 1,20,20 and 1,40,40) the estimate was 1.06x and 1.33x the measured peak
# (1.83 and 3.49 GiB); at 1,100,100 XLA's buffers for the finest level's
# iteration (15.8 GiB) stay under the estimate's 18.7 GiB for that level, so
# what ran out there was outside the arrays counted here.
USABLE_FRACTION = 0.85

# Engine constants the formulas depend on.
_DESCRIPTOR_DIM = 16  # patchmatch.patchmatch(descriptor_dim=16)
_PCA_SAMPLES = 4096  # patchmatch.patchmatch(num_pca_samples=4096)
_RESCORE_BLOCK = 8192 // 8  # patchmatch: block_size // 8 queries re-scored
_UNRESOLVED_BLOCK = patches._UNRESOLVED_BLOCK  # pylint: disable=protected-access


def _video_bytes(size: Sequence[int], channels: int) -> int:
  return math.prod(size) * channels * _VALUE


def _grid(size: Sequence[int], patch_size: Sequence[int]) -> int:
  """Patch positions of a (T, H, W) video."""
  return math.prod(patches.grid_shape(size, patch_size))


Parts = dict[str, int]  # a named piece of the estimate -> bytes


def _exact_parts(level: generation.Level, channels: int, batch: int,
                 chunk_size: int) -> Parts:
  """Working set of the exact search (pnn._exact_field, nn._exact_nearest)."""
  dim = math.prod(level.patch_size) * channels
  queries = _grid(level.output_size, level.patch_size)
  keys = _grid(level.input_size, level.patch_size)
  chunk = max(1, min(chunk_size, queries))
  padded = -(-queries // chunk) * chunk
  # Per variation: the unfolded queries, then the search's working set: their
  # copy padded to whole chunks and three chunk x keys blocks (the product,
  # the distances, the positions where the minimum is reached). The unfolded
  # keys are shared.
  search = padded * dim + 3 * chunk * keys
  if level.alpha is not None:
    # The completeness term first searches the other way (every key's
    # nearest query: the keys padded to whole chunks, two chunk x queries
    # blocks), then keeps one normaliser per key and one more chunk x keys
    # block (the normalised distances) in the forward search.
    key_chunk = max(1, min(chunk_size, keys))
    padded_keys = -(-keys // key_chunk) * key_chunk
    reverse = padded_keys * dim + 2 * key_chunk * queries
    search = keys + max(reverse, search + chunk * keys)
  return {'exact: unfolded queries': batch * queries * dim * _VALUE,
          'exact: chunked search': batch * search * _VALUE,
          'exact: unfolded keys': keys * dim * _VALUE}


def _patchmatch_parts(level: generation.Level, channels: int, batch: int,
                      platform: str) -> Parts:
  """Working set of PatchMatch (patchmatch._patchmatch)."""
  pt = level.patch_size[0]
  patch_dim = math.prod(level.patch_size) * channels
  dim = min(_DESCRIPTOR_DIM, patch_dim)
  queries = _grid(level.output_size, level.patch_size)
  keys = _grid(level.input_size, level.patch_size)
  frames, height, width = level.output_size
  # `_descriptors` stacks the pt frames of each patch on channels, a block
  # of frames at a time on large levels (`patchmatch._descriptor_frames`).
  block = patchmatch_lib._descriptor_frames(  # pylint: disable=protected-access
      (frames, height, width, channels), level.patch_size)
  stacked = min(frames - pt + 1, block) * height * width * pt * channels
  # Per variation: the query descriptors and a convolution output of their
  # size, the key descriptors (per variation: the principal components
  # depend on the key), two stacked videos, the sampled patches of the
  # principal components and their centred copy, a few per-query arrays
  # (field, distances, neighbour corners), and the windows gathered for the
  # final exact re-score (two candidates per query, a block at a time).
  parts = {
      'pm: query descriptors + conv output': batch * 2 * dim * queries,
      'pm: key descriptors': batch * dim * keys,
      'pm: stacked videos (2)': batch * 2 * stacked,
      'pm: PCA samples (2)': batch * 2 * _PCA_SAMPLES * patch_dim,
      'pm: per-query arrays (4)': batch * 4 * queries,
      'pm: re-score windows': batch * 2 * _RESCORE_BLOCK * patch_dim,
  }
  if batch > 1 and platform == 'cpu':
    # With a kernel per variation the descriptor convolution has 16 x batch
    # output channels, which XLA:CPU runs through an im2col matrix of whole
    # patches, outside XLA's buffers (measured: +0.65 GiB per variation at
    # 13x144x256): batch x queries x patch_dim floats for the queries,
    # keys x patch_dim for the keys.
    parts['pm: im2col (batch > 1)'] = max(batch * queries, keys) * patch_dim
  return {name: n * _VALUE for name, n in parts.items()}


def _median_fold_parts(level: generation.Level, channels: int,
                       batch: int) -> Parts:
  """Working set of the median fold (patches._fold_median)."""
  volume = math.prod(level.patch_size)
  voxels = math.prod(level.output_size) * channels
  # Per variation: whole-video arrays (the guess, the candidate, the packed
  # counts, one offset's proposals and the rows they are read from, the
  # output being filled), and the P proposals of one block of unresolved
  # values with their indices. The values are copied once with a +inf row.
  return {
      'fold: whole-video arrays (6)': batch * 6 * voxels * _VALUE,
      'fold: unresolved block': batch * 2 * volume * _UNRESOLVED_BLOCK * _VALUE,
      'fold: values + inf row': _video_bytes(level.input_size, channels),
  }


def _level_parts(level: generation.Level, channels: int, batch: int,
                 chunk_size: int, platform: str) -> tuple[Parts, Parts, Parts]:
  """What one level adds to the pyramid while its step runs.

  Returns:
    (resident, search, fold) parts: the resident ones live through the
    level; the search and the fold run one after the other, so only the
    larger of the two counts.
  """
  output = _video_bytes(level.output_size, channels)
  field = _grid(level.output_size, level.patch_size) * 3 * _VALUE
  # generation._run_level: the keys (coarser level upscaled, freed after
  # the first iteration); per variation the queries and field (the
  # iteration's arguments) and its output and field. A level that shares
  # its key index (pnn.key_indexes) holds one at a time
  # (pnn.consume_iterations makes the later iterations' after the first),
  # counted as the search's key descriptors.
  resident = {
      'keys (coarser input upscaled)': _video_bytes(level.input_size,
                                                    channels),
      'queries + output': batch * 2 * output,
      'fields (in + out)': batch * 2 * field,
  }
  if level.search == 'exact':
    search = _exact_parts(level, channels, batch, chunk_size)
  else:
    search = _patchmatch_parts(level, channels, batch, platform)
  return resident, search, _median_fold_parts(level, channels, batch)


def _fixed_parts(levels: Sequence[generation.Level], platform: str) -> Parts:
  """The process and its compiled programs: host memory, CPU only."""
  if platform != 'cpu':
    return {}  # an accelerator's memory holds the arrays only
  # Generation compiles its levels on a few threads at once: count the
  # costliest compilations that many at a time.
  workers = generation.compile_workers(len(levels))
  compiling = sorted((_COMPILE_BYTES[level.search] for level in levels),
                     reverse=True)[:workers]
  programs = sum(_PROGRAM_BYTES[level.search] for level in levels)
  return {'fixed: runtime': _RUNTIME_BYTES,
          'fixed: compilations at once': sum(compiling),
          'fixed: compiled programs': programs}


def _fixed_bytes(levels: Sequence[generation.Level], platform: str) -> int:
  return sum(_fixed_parts(levels, platform).values())


def _held_bytes(level: generation.Level, channels: int, batch: int) -> int:
  """A level's output and field, as its finer level holds them."""
  return batch * (_video_bytes(level.output_size, channels) +
                  _grid(level.output_size, level.patch_size) * 3 * _VALUE)


class Breakdown(NamedTuple):
  """`estimate_bytes` piece by piece (bytes), at the level of its peak.

  Attributes:
    peak_level: index of the level (0 = finest) where the peak is.
    parts: (name, bytes) of everything counted there, before the margin;
      the names say which term of the estimate each is.
    fold_counted: whether the fold's working set (rather than the
      search's) is the one counted at that level (the larger).
    idle: (name, bytes) of the other of the two, listed but not counted.
    margin: the `_SAFETY` margin on the arrays.
    total: `estimate_bytes` of the same request: sum(parts) + margin.
  """
  peak_level: int
  parts: tuple[tuple[str, int], ...]
  fold_counted: bool
  idle: tuple[tuple[str, int], ...]
  margin: int
  total: int


def _window_level(level: generation.Level,
                  window: generation.Windows) -> generation.Level:
  """The level as one of its windows searches it: `window.size` frames of
  queries and output, the whole input level as keys and values or, with key
  windows (`Config.window_key_margin`), `window.key_size` frames of it."""
  level = level._replace(output_size=(window.size,) + level.output_size[1:])
  if window.key_size is None:
    return level
  return level._replace(input_size=(window.key_size,) + level.input_size[1:])


def _level_phases(level: generation.Level, window, held: int, channels: int,
                  batch: int, chunk_size: int, platform: str
                  ) -> tuple[Parts, Parts, Parts, str]:
  """One level at its peak: (resident, counted, idle) parts and the phase.

  `window` is the level's `generation.Windows` or None (whole), `held` the
  coarser level's output and field (`_held_bytes`). The phase ('start',
  'search' or 'fold') is the one whose working set is the larger: it is
  counted, the other listed as idle.
  """
  searched = level if window is None else _window_level(level, window)
  resident, search, fold = _level_parts(searched, channels, batch,
                                        chunk_size, platform)
  key_index = dict(search).get('pm: key descriptors', 0)
  if window is None:
    start = {'coarser output + field held': held}
  else:
    # generation._run_windows: every window's start reads the coarser output
    # and field, held until the last one's; the whole level's output and
    # field are assembled next to each window's. A window's start makes only
    # its own frames of the upscaled queries, field and keys
    # (`generation._window_start`) and its key index again; with key windows
    # its values are a copy of their frames of the input level.
    resident = dict(resident)
    resident['windows: coarser output + field held'] = held
    resident['windows: whole output + field assembled'] = _held_bytes(
        level, channels, batch)
    if window.key_size is not None:
      resident['windows: key frames of the values'] = _video_bytes(
          searched.input_size, channels)
    start = {}
  if key_index:
    start['pm: key descriptors'] = key_index
  # The windows' paste (a window's blend, two window-sized arrays) is smaller
  # than the fold's six.
  sizes = {'start': sum(start.values()), 'search': sum(search.values()),
           'fold': sum(fold.values())}
  phase = ('start' if sizes['start'] >= max(sizes['search'], sizes['fold'])
           and sizes['start'] > 0 else
           'fold' if sizes['fold'] >= sizes['search'] else 'search')
  if phase == 'start':
    return resident, start, search, phase
  counted, idle = (fold, search) if phase == 'fold' else (search, fold)
  return resident, counted, idle, phase


def breakdown(levels: Sequence[generation.Level],
              channels: int,
              batch: int = 1,
              *,
              chunk_size: int = 1024,
              platform: str | None = None,
              layout_draws: int = 1,
              guard_level: int = 1,
              windows: Sequence | None = None) -> Breakdown:
  """The pieces of `estimate_bytes` (same arguments) at its peak level."""
  if not levels:
    raise ValueError('levels is empty: pass the plan of plan_levels')
  if channels < 1 or batch < 1 or chunk_size < 1:
    raise ValueError(f'channels, batch and chunk_size must be positive, got '
                     f'{channels}, {batch} and {chunk_size}')
  platform = jax.default_backend() if platform is None else platform
  windows = [None] * len(levels) if windows is None else list(windows)
  if len(windows) != len(levels):
    raise ValueError(f'windows has {len(windows)} entries for '
                     f'{len(levels)} levels: pass level_windows(levels, '
                     f'config)')
  # While level i runs, the pyramid levels down to i + 1 are alive (the
  # finest is the input's float32 device copy): generation._run drops each
  # coarser level once the next finer level's start has read it. On CPU
  # the caller's input and the staging copy made while moving it to the
  # device stay alive too.
  video = [_video_bytes(level.input_size, channels) for level in levels]
  cpu_input = 2 * video[0] if platform == 'cpu' else 0
  # The coarser level's output and field are held until the level's start
  # has read them (1.6 GiB of a 6x3200x5700 output's finest level, which
  # XLA's buffers of the level's programs do not show): during the start
  # they sit next to its outputs and the first key index it makes.
  held = [_held_bytes(level, channels, batch) for level in levels[1:]] + [0]
  phases = [_level_phases(level, windows[i], held[i], channels, batch,
                          chunk_size, platform)
            for i, level in enumerate(levels)]
  sizes = [sum(video[:i + 2]) + sum(resident.values()) +
           sum(counted.values())
           for i, (resident, counted, _, _) in enumerate(phases)]
  peak = max(range(len(levels)), key=sizes.__getitem__)
  resident, counted, idle, phase = phases[peak]
  arrays = {'pyramid (down to the next coarser level)':
                sum(video[:peak + 2])}
  if cpu_input:
    arrays['input + staging copy'] = cpu_input
  arrays.update(resident)
  arrays.update(counted)
  if layout_draws > 1:
    guarded = levels[max(len(levels) - 1 - guard_level, 0):]
    kept = sum(_held_bytes(l, channels, batch) for l in guarded)
    # The score (generation.layout_coherence): the guard level's unfolded
    # keys, at most 4096 strided queries, and a 1024-query chunk of their
    # distances to every key (nn.min_distance_to), per variation.
    level = guarded[0]
    dim = math.prod(level.patch_size) * channels
    keys = _grid(level.input_size, level.patch_size)
    score = batch * (keys * dim + 4096 * dim + 1024 * keys) * _VALUE
    # Measured: a 2-level retarget guarded over both levels peaked 260 MiB
    # above the unguarded estimate, mostly the score's compilation.
    arrays['guard: kept draws + score'] = (
        (layout_draws - 1) * kept + score +
        (_COMPILE_BYTES['exact'] if platform == 'cpu' else 0))
  fixed = _fixed_parts(levels, platform)
  margin = int((_SAFETY - 1) * sum(arrays.values()))
  parts = tuple(fixed.items()) + tuple(arrays.items())
  total = int(sum(fixed.values()) + _SAFETY * sum(arrays.values()))
  return Breakdown(peak, parts, phase == 'fold', tuple(idle.items()),
                   margin, total)


def estimate_bytes(levels: Sequence[generation.Level],
                   channels: int,
                   batch: int = 1,
                   *,
                   chunk_size: int = 1024,
                   platform: str | None = None,
                   layout_draws: int = 1,
                   guard_level: int = 1,
                   windows: Sequence | None = None) -> int:
  """Peak memory of a generation request, in bytes.

  Args:
    levels: the plan, `generation.plan_levels(size, config, channels)`,
      finest level first.
    channels: C, channels of the video.
    batch: variations generated together (`generate_batch` with this many
      keys; 1 for `generate`).
    chunk_size: queries per chunk of the exact search (`Config.chunk_size`).
    platform: 'cpu' (the peak resident memory of the whole process), or
      'gpu' / 'tpu' (the arrays on the device only); None: the default
      backend's.
    layout_draws, guard_level: the structure guard (`Config`): each draw
      keeps its outputs of the guarded levels, and scoring the draws is one
      more program to compile.
    windows: every level's temporal windows, `generation.level_windows(
      levels, config)` (finest first, None where the level runs whole);
      None: no level runs in windows. A windowed level searches and folds
      one window at a time; its whole output and field, and the coarser
      output and field every window's start reads, stay whole.

  Returns:
    An upper bound of the peak memory: the arrays (with a margin of
    `_SAFETY`) plus, on CPU, the process's fixed costs. `breakdown` lists
    its pieces.
  """
  return breakdown(levels, channels, batch, chunk_size=chunk_size,
                   platform=platform, layout_draws=layout_draws,
                   guard_level=guard_level, windows=windows).total


def _read_int(path: str) -> int | None:
  try:
    with open(path, encoding='ascii') as f:
      return int(f.read().split()[0])
  except (OSError, ValueError, IndexError):
    return None  # absent, or 'max' (no limit)


def _meminfo_available() -> int | None:
  """MemAvailable of /proc/meminfo: free memory plus what can be reclaimed."""
  try:
    with open('/proc/meminfo', encoding='ascii') as f:
      for line in f:
        if line.startswith('MemAvailable:'):
          return int(line.split()[1]) * 1024  # the file counts kB
  except (OSError, ValueError, IndexError):
    pass
  return None


def _cgroup_available(root: str = '/sys/fs/cgroup') -> int | None:
  """What a container's memory limit leaves (/proc/meminfo ignores it)."""
  for limit, usage, stat, inactive in (
      ('memory.max', 'memory.current', 'memory.stat', 'inactive_file'),
      ('memory/memory.limit_in_bytes', 'memory/memory.usage_in_bytes',
       'memory/memory.stat', 'total_inactive_file')):
    limit_bytes = _read_int(os.path.join(root, limit))
    usage_bytes = _read_int(os.path.join(root, usage))
    if limit_bytes is None or usage_bytes is None or limit_bytes >= 2**60:
      continue  # no such cgroup, or no limit
    reclaimable = 0  # the usage counts page cache the kernel can drop
    try:
      with open(os.path.join(root, stat), encoding='ascii') as f:
        for line in f:
          name, value = line.split()
          if name == inactive:
            reclaimable = int(value)
    except (OSError, ValueError):
      pass
    return max(0, limit_bytes - usage_bytes + reclaimable)
  return None


def available_bytes() -> int | None:
  """Memory the default JAX backend can still use, in bytes; None if unknown.

  On CPU: MemAvailable of /proc/meminfo (free memory plus what the kernel can
  reclaim), else free physical pages from `os.sysconf`, and no more than a
  container's memory limit leaves. On GPU and TPU: the first device's
  `bytes_limit - bytes_in_use`.
  """
  device = jax.devices()[0]
  if device.platform != 'cpu':
    try:
      stats = device.memory_stats()
    except Exception:  # pylint: disable=broad-except
      stats = None  # some backends do not implement it
    if not stats or 'bytes_limit' not in stats:
      return None
    return int(stats['bytes_limit']) - int(stats.get('bytes_in_use', 0))
  available = _meminfo_available()
  if available is None:
    try:
      available = os.sysconf('SC_AVPHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')
    except (ValueError, OSError, AttributeError):
      available = None
  limited = _cgroup_available()
  if available is None or limited is None:
    return limited if available is None else available
  return min(available, limited)


def _replan(levels: Sequence[generation.Level], size: Sequence[int],
            config: generation.Config | None,
            channels: int) -> list[generation.Level] | None:
  """The plan for an input of `size`; None if it cannot hold a patch."""
  if config is None:
    # The defaults, with the plan's patch (its coarsest level's: the finer
    # ones may be smaller) and output scale.
    finest, coarsest = levels[0], levels[-1]
    config = generation.make_config(
        patch_size=coarsest.patch_size,
        scale=tuple(o / i for o, i in zip(finest.output_size,
                                          finest.input_size)))
  try:
    return generation.plan_levels(size, config, channels)
  except errors.InputError:
    return None


def _first(predicate, low: int, high: int) -> int | None:
  """The smallest n in [low, high] with predicate(n), for a monotone one."""
  if high < low or not predicate(high):
    return None
  while low < high:
    middle = (low + high) // 2
    low, high = (low, middle) if predicate(middle) else (middle + 1, high)
  return low


def _largest_fitting(plan, fits, low: int, high: int) -> int | None:
  """The largest n in [low, high] whose plan fits; None if none does.

  `plan(n)` is None for small n (too small to hold a patch), a plan above;
  `fits(plan(n))` is assumed to turn false once as n grows. The answer, if
  any, always fits.
  """
  low = _first(lambda n: plan(n) is not None, low, high)
  if low is None or not fits(plan(low)):
    return None
  # fits(plan(low)) holds throughout; `high` moves below every failure.
  while low < high:
    middle = (low + high + 1) // 2
    low, high = (middle, high) if fits(plan(middle)) else (low, middle - 1)
  return low


def _resident_bytes() -> int | None:
  """This process's resident memory now (/proc/self/statm), None if unknown."""
  try:
    with open('/proc/self/statm', encoding='ascii') as f:
      return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
  except (OSError, ValueError, IndexError):
    return None


def request_available_bytes(levels: Sequence[generation.Level],
                            channels: int,
                            platform: str | None = None) -> int | None:
  """`available_bytes()` for the request `levels` makes; None if unknown.

  On CPU the estimate is the peak of the whole process, its runtime and
  the caller's input included; what of that the process already holds is
  not free memory but no more needed either. Without this credit a request
  checked once before reading its input and once after (the command line,
  then `generate`) was refused the second time: a 60x720x1280 run windowed
  to fit 20.9 GiB free found 19.8 GiB free after reading the clip.
  Whatever else the process holds is not credited.
  """
  available = available_bytes()
  platform = jax.default_backend() if platform is None else platform
  if available is None or platform != 'cpu':
    return available
  resident = _resident_bytes() or 0
  # The runtime and the input with its staging copy (`breakdown`).
  counted = _RUNTIME_BYTES + 2 * _video_bytes(levels[0].input_size, channels)
  return available + min(resident, counted)


def _gib(num_bytes: float) -> str:
  return f'{num_bytes / 2**30:.1f} GiB'


# Arrays up to this size are not checked: they fit anywhere, and asking the
# free memory costs file reads.
_UNCHECKED_BYTES = 64 * 2**20


def check_array_fits(shape: Sequence[int], what: str = 'the video', *,
                     available: int | None = None) -> None:
  """Raises `InputError` when a float32 array of `shape` cannot fit.

  Checked before the array is made (or copied to the device), so that a
  huge request fails at once instead of allocating: the array alone may
  take at most `USABLE_FRACTION` (85%) of the free memory.

  Args:
    shape: the array's shape.
    what: the array's name in the message.
    available: free bytes; None asks `available_bytes()`, and when that is
      unknown too nothing is checked.
  """
  num_bytes = math.prod(int(n) for n in shape) * _VALUE
  if num_bytes <= _UNCHECKED_BYTES:
    return
  if available is None:
    available = available_bytes()
    if available is None:
      return
  if num_bytes > USABLE_FRACTION * available:
    size = 'x'.join(str(int(n)) for n in shape)
    raise errors.InputError(
        f'{what} ({size}) needs {_gib(num_bytes)} as float32 but only '
        f'{_gib(available)} is free, of which a run may use '
        f'{USABLE_FRACTION:.0%}; use a smaller size (fewer frames, a '
        f'smaller height and width)')


def _estimator(channels: int, chunk_size: int,
               config: generation.Config | None, platform: str | None):
  """`estimate(plan, num)`: `estimate_bytes` of a plan with `config`'s guard
  and temporal windows (the defaults' without a config: none) on `platform`
  (default: this backend)."""
  platform = jax.default_backend() if platform is None else platform
  guard = {} if config is None else dict(
      layout_draws=generation.guard_draws(config),
      guard_level=config.guard_level)

  def estimate(plan, num):
    # The windows of each plan: a smaller request has fewer frames per level.
    windows = None if config is None else generation.level_windows(plan,
                                                                   config)
    return estimate_bytes(plan, channels, num, chunk_size=chunk_size,
                          **guard, platform=platform, windows=windows)

  return estimate


def request_bytes(levels: Sequence[generation.Level],
                  channels: int,
                  batch: int = 1,
                  *,
                  config: generation.Config | None = None,
                  platform: str | None = None) -> int:
  """`estimate_bytes` of a request as `generate` runs it with `config`: its
  chunk size, structure guard and temporal windows (without a config: no
  guard and no windows, as `check_fits`)."""
  chunk_size = 1024 if config is None else config.chunk_size
  return _estimator(channels, chunk_size, config, platform)(levels, batch)


def check_fits(levels: Sequence[generation.Level],
               channels: int,
               batch: int = 1,
               *,
               chunk_size: int = 1024,
               available: int | None = None,
               config: generation.Config | None = None,
               platform: str | None = None) -> None:
  """Raises `InputError` when a request needs more memory than is free.

  Args:
    levels: the plan, `generation.plan_levels(size, config, channels)`.
    channels: C, channels of the video.
    batch: variations generated together.
    chunk_size: `Config.chunk_size`.
    available: free bytes; None asks `available_bytes()`, and when that is
      unknown too nothing is checked.
    config: the `Config` the plan was made with, to plan the smaller
      requests suggested; without it the defaults are assumed (with the
      plan's patch size and output scale).
    platform: as in `estimate_bytes`.

  A request fits when its estimate is at most `USABLE_FRACTION` (85%) of
  `available`.

  Raises:
    InputError: naming the memory needed and free, and the largest
      `--max-size` (height), frame count and variation count that fit.
  """
  if available is None:
    available = request_available_bytes(levels, channels, platform)
    if available is None:
      return
  usable = USABLE_FRACTION * available
  estimate = _estimator(channels, chunk_size, config, platform)

  def fits(plan, num=batch):
    return estimate(plan, num) <= usable

  needed = estimate(levels, batch)
  if needed <= usable:
    return
  frames, height, width = levels[0].input_size

  def plan(size):
    return _replan(levels, size, config, channels)

  def read_at(new_height):  # the size read_video(max_size=new_height) gives
    return (frames, new_height,
            sizes_lib.width_at_height((height, width), new_height))

  fixes = []
  max_height = _largest_fitting(lambda h: plan(read_at(h)), fits, 1,
                                height - 1)
  if max_height is not None:
    fixes.append(f'a smaller --max-size (e.g. {max_height})')
  max_frames = _largest_fitting(lambda t: plan((t, height, width)), fits, 1,
                                frames - 1)
  if max_frames is not None:
    fixes.append(f'fewer frames (e.g. --frames 0:{max_frames})')
  if batch > 1 and fits(levels, 1):
    # The largest n that fits is the first whose n + 1 does not.
    max_batch = _first(lambda n: not fits(levels, n + 1), 1, batch - 1)
    fixes.append(f'fewer variations (e.g. --num {max_batch})')
  what = f'{frames}x{height}x{width}'
  what += f', {batch} variations' if batch > 1 else ''
  if config is not None and config.window_frames is not None:
    what += (f', in windows of {config.window_frames} frames on the finest '
             f'{min(config.window_levels, len(levels) - 1)} level(s)')
  if fixes:
    fix = 'use ' + ', '.join(fixes[:-1]) + (' or ' if len(fixes) > 1 else '')
    fix += fixes[-1]
  else:
    fix = ('no smaller request fits either: free memory or use a machine with '
           'more')
  raise errors.InputError(
      f'this request needs about {_gib(needed)} ({what}) but only '
      f'{_gib(available)} is free, of which a run may use '
      f'{USABLE_FRACTION:.0%} ({_gib(usable)}); {fix}')


def largest_batch(levels: Sequence[generation.Level],
                  channels: int,
                  num: int,
                  *,
                  chunk_size: int = 1024,
                  available: int | None = None,
                  config: generation.Config | None = None,
                  platform: str | None = None) -> int:
  """How many of `num` variations to generate at once so that each batch fits.

  A large `--num` is made in batches of this size rather than refused
  (variations do not depend on the batch they are made in: each has its own
  key). Arguments as `check_fits`.

  Returns:
    The largest n <= num whose estimate is at most `USABLE_FRACTION` of the
    free memory; `num` when the free memory is unknown.

  Raises:
    InputError: not even one variation fits (`check_fits`'s message).
  """
  check_fits(levels, channels, 1, chunk_size=chunk_size, available=available,
             config=config, platform=platform)
  if available is None:
    available = request_available_bytes(levels, channels, platform)
    if available is None:
      return num
  estimate = _estimator(channels, chunk_size, config, platform)

  def fits(n):
    return estimate(levels, n) <= USABLE_FRACTION * available

  if fits(num):
    return num
  # One fits (checked above); the largest n is the first whose n + 1 fails.
  return _first(lambda n: not fits(n + 1), 1, num - 1)


class WindowChoice(NamedTuple):
  """Temporal windows that make a request fit (`fitting_windows`).

  Attributes:
    frames: `Config.window_frames`, frames per window.
    levels: `Config.window_levels`, how many of the finest levels run in
      windows.
    key_margin: `Config.window_key_margin`: None, every window searches the
      whole input level; `KEY_MARGIN`, each its own frames and that many more
      on either side (where whole keys leave no good window).
  """
  frames: int
  levels: int
  key_margin: int | None = None


# Key frames beyond a window's own, either side, where `fitting_windows`
# windows the keys too. On a 40x144x256 bunny clip (windows 15/4 on 2
# levels) 2 frames cost 16% of coherence, 4 frames 3%, 8 nothing measurable
# (experiments/bench_windows.py, results/windows.md).
KEY_MARGIN = 8


def shortest_window(levels: Sequence[generation.Level],
                     config: generation.Config) -> int:
  """The fewest frames a window may have: more than the overlap, and at
  least every level's patch (`generation.level_windows`)."""
  return max(int(config.window_overlap) + 1,
             max(level.patch_size[0] for level in levels))


def fitting_windows(levels: Sequence[generation.Level],
                    channels: int,
                    batch: int = 1,
                    *,
                    chunk_size: int = 1024,
                    available: int | None = None,
                    config: generation.Config | None = None,
                    platform: str | None = None,
                    frames: int | None = None,
                    spare: float = 0.0) -> WindowChoice | None:
  """The temporal windows with which a request fits, for one that does not
  fit whole.

  Windows the fewest of the finest levels that makes a window of at least
  `2 * overlap + pt` frames fit (each window then has more frames of its own
  than it shares), in the most frames that fit there: every windowed level
  has seams and makes its keys and its start's upscaling again per window,
  and a short window spends most of its search on shared frames. Every
  window searches the whole input level where that fits such a window;
  otherwise its own frames and `KEY_MARGIN` more either side (its matches
  then reach no farther in time), where that does. Where neither fits such
  a window, the longest window that fits at all (at least
  `shortest_window`), on the fewest levels, whole keys first.

  Args:
    levels, channels, batch, chunk_size, available, platform: as
      `check_fits`.
    config: the request's `Config` (its `window_overlap` and guard; the
      defaults without one); its own `window_frames` and `window_levels`
      are replaced.
    frames: frames per window, fixed (only the levels are chosen: the
      fewest that fit windows of this many frames); None: chosen too.
    spare: the share of the request's arrays (its unwindowed estimate less
      the fixed costs) left free beyond `USABLE_FRACTION`, for a check made
      again later, when the machine may hold more.

  Returns:
    The windows, whose estimate is at most `USABLE_FRACTION` of
    `available`; None when no windows fit, the free memory is unknown, or
    the finest level has too few frames to window.
  """
  if available is None:
    available = request_available_bytes(levels, channels, platform)
    if available is None:
      return None
  config = generation.make_config() if config is None else config
  usable = USABLE_FRACTION * available
  if spare:
    platform = jax.default_backend() if platform is None else platform
    whole = _estimator(channels, chunk_size, config._replace(
        window_frames=None), platform)(levels, batch)
    usable -= spare * (whole - _fixed_bytes(levels, platform))
  if frames is None:
    # A window of every frame of the finest level does not window it.
    shortest = shortest_window(levels, config)
    longest = levels[0].output_size[0] - 1
  else:
    shortest = longest = int(frames)
  good = 2 * int(config.window_overlap) + max(l.patch_size[0] for l in levels)

  def fits(size, count, margin):
    windowed = config._replace(window_frames=size, window_levels=count,
                               window_key_margin=margin)
    return _estimator(channels, chunk_size, windowed, platform)(
        levels, batch) <= usable

  fallback = None
  for margin in (None, KEY_MARGIN):
    for count in range(1, len(levels)):  # never the coarsest level
      size = _largest_fitting(
          lambda n: n, lambda n, c=count, m=margin: fits(n, c, m), shortest,
          longest)
      if size is None:
        continue
      if size >= min(good, longest):
        return WindowChoice(size, count, margin)
      if fallback is None or size > fallback.frames:
        fallback = WindowChoice(size, count, margin)
  return fallback


def check_outputs_fit(num: int, output_size: Sequence[int], channels: int,
                      *, available: int | None = None) -> None:
  """Raises `InputError` when `num` outputs cannot be held together.

  Batches bound the working memory, but the command line keeps every output
  (for the grid and the files) until the end: [num, T, H, W, C] float32.

  Args:
    num: variations asked for.
    output_size: (T, H, W) of one output.
    channels: C.
    available: free bytes; None asks `available_bytes()` (unknown: no check).
  """
  each = math.prod(int(n) for n in output_size) * channels * _VALUE
  if available is None:
    if num * each <= _UNCHECKED_BYTES:
      return
    available = available_bytes()
    if available is None:
      return
  usable = USABLE_FRACTION * available
  if num * each > usable:
    size = 'x'.join(str(int(n)) for n in output_size)
    raise errors.InputError(
        f'{num} variations of {size} need {_gib(num * each)} held together '
        f'but only {_gib(available)} is free, of which a run may use '
        f'{USABLE_FRACTION:.0%}; ask for fewer variations (e.g. --num '
        f'{max(1, int(usable // each) // 2)})')
