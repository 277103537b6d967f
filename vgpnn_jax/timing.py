"""A rough estimate of a run's time, for `generate --dry-run`.

The model: seconds = per level (coarsest first) work x seconds per unit, plus
a fixed start. An exact level's work is its flops (`pnn.exact_cost` x
iterations, twice that with the completeness term, which runs a second
search); a PatchMatch level's is its `generation.level_work` (output voxels x
iterations) x `PATCHMATCH_FLOPS_PER_VOXEL`, in flops of the exact search. The
levels under the structure guard count once per draw, every level once per
output. The seconds per flop come from `calibrate`: one small exact search
timed on this machine, so the estimate follows the machine's speed; the
constants below say how the real levels compare with it.

Measured on the 2-core CPU this was written on (13x72x128 of the bundled
sample, compilation cached): the calibration search ran at about 70 Gflop/s,
the exact levels at about 0.65 of that, a PatchMatch voxel-iteration cost
about as much as 1.6e5 calibration flops, and loading the cached programs and
the first level about 3 s. The estimate is for a rerun with compiled programs
cached: a first run also compiles, often longer than it runs at small sizes
(experiments/results/dry_run_estimate.md gives the accuracy).
"""

import functools
import time
from typing import Sequence

import jax

from vgpnn_jax import generation
from vgpnn_jax import nn
from vgpnn_jax import pnn

EXACT_EFFICIENCY = 0.65  # the exact levels' flop rate over the calibration's
PATCHMATCH_FLOPS_PER_VOXEL = 1.6e5  # calibration flops per voxel-iteration
START_SECONDS = 3.0  # loading the cached programs, the pyramid, the first key
LEVEL_SECONDS = 0.05  # per level and draw: dispatch, the fold
# The calibration search: 1024 queries, 4096 keys of 3x7x7x3 values (3.7
# Gflop, about 50 ms on 2 cores).
_CALIBRATION_SHAPE = (1024, 4096, 3 * 7 * 7 * 3)


@functools.cache
def calibrate() -> float:
  """Flops per second of one small exact search on the default device (the
  best of 3 after a warm-up; cached for the process)."""
  queries_n, keys_n, dim = _CALIBRATION_SHAPE
  key_q, key_k = jax.random.split(jax.random.key(0))
  queries = jax.random.uniform(key_q, (queries_n, dim))
  keys = jax.random.uniform(key_k, (keys_n, dim))
  search = jax.jit(lambda q, k: nn.exact_nearest(q, k)[1])
  jax.block_until_ready(search(queries, keys))  # compile
  best = float('inf')
  for _ in range(3):
    start = time.perf_counter()
    jax.block_until_ready(search(queries, keys))
    best = min(best, time.perf_counter() - start)
  return 2.0 * queries_n * keys_n * dim / best


def level_flops(levels: Sequence[generation.Level],
                channels: int = 3) -> list[float]:
  """Each level's work in calibration flops for one output, coarsest first.

  Args:
    levels: the plan (`generation.plan_levels`), finest first.
    channels: values per voxel of the searched videos.

  Returns:
    [len(levels)] flops: exact levels' flops over `EXACT_EFFICIENCY`,
    PatchMatch levels' `level_work` x `PATCHMATCH_FLOPS_PER_VOXEL`.
  """
  work = generation.level_work(levels)
  flops = []
  for level, units in zip(levels[::-1], work):
    if level.search == 'exact':
      searches = 1 if level.alpha is None else 2  # completeness: a 2nd search
      cost = pnn.exact_cost(level.output_size, level.input_size,
                            level.patch_size, channels)
      flops.append(searches * cost * level.num_iters / EXACT_EFFICIENCY)
    else:
      flops.append(units * PATCHMATCH_FLOPS_PER_VOXEL)
  return flops


def estimate_seconds(levels: Sequence[generation.Level], num: int,
                     config: generation.Config, channels: int = 3, *,
                     flops_per_second: float | None = None) -> float:
  """The estimated seconds of a run of `num` outputs with programs cached.

  Args:
    levels: the plan (`generation.plan_levels`), finest first.
    num: the number of outputs.
    config: the `Config` of the plan (its structure guard).
    channels: values per voxel of the searched videos.
    flops_per_second: the machine's speed; None: `calibrate()`.

  Returns:
    Seconds, as the model of this module gives them.
  """
  rate = calibrate() if flops_per_second is None else flops_per_second
  draws = generation.guard_draws(config)
  guarded = min(config.guard_level, len(levels) - 1) + 1  # coarsest first
  seconds = START_SECONDS
  for index, flops in enumerate(level_flops(levels, channels)):
    times = draws if index < guarded else 1
    seconds += times * (num * flops / rate + LEVEL_SECONDS)
  return seconds
