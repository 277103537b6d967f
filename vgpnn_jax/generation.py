"""Coarse-to-fine generation: variations and retargeting of one video.

At the coarsest level the queries are the coarsest input level, resized to the
coarsest output size, plus Gaussian noise; at every finer level they are the
previous output upscaled. Keys are the coarser input level upscaled to this
level (as blurred as the queries), values are this input level (DESIGN.md §1).

    video = ...                                   # [T, H, W, 3] in [0, 1]
    out = vgpnn_jax.generate(jax.random.key(0), video)
    outs = vgpnn_jax.generate_batch(jax.random.split(jax.random.key(0), 8),
                                    video)        # [8, T, H, W, 3]

`generate` is a pure function of its arguments: it can be wrapped in `jax.jit`
(with the config static) or `jax.vmap` over keys. `generate_batch` does the
vmap level by level, which also reports progress.
"""

import concurrent.futures
import functools
import math
import operator
import os
import time
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from vgpnn_jax import errors
from vgpnn_jax import masks as masks_lib
from vgpnn_jax import nn
from vgpnn_jax import noise as noise_lib
from vgpnn_jax import patches as patches_lib
from vgpnn_jax import patchmatch
from vgpnn_jax import pnn
from vgpnn_jax import program_cache
from vgpnn_jax import pyramid
from vgpnn_jax import resampling as resize_lib
from vgpnn_jax import sharding

SEARCH_MODES = ('auto', 'exact', 'patchmatch')
NOISE_UNITS = ('value', 'patch_spread')

# `noise_std` above this is refused: far beyond any useful setting (in
# `noise_unit='patch_spread'` units 10-40 are normal), it drowns the start.
MAX_NOISE_STD = 1000.0
# Input values may stray this far outside [0, 1]: a cubic resize (Keys,
# a = -0.5) of a [0, 1] video overshoots by up to 0.28 in height and width
# (e.g. `analogy.fit_appearance`), 0.48 in time too. Further out the video is
# in other units (0-255, or -1 to 1).
VALUE_SLACK = 0.5

# `search='auto'` uses the exact search on a level when one exact search costs
# at most this many flops (about a second on a 2-core CPU), PatchMatch above.
DEFAULT_AUTO_EXACT_FLOPS = 5e10


class Config(NamedTuple):
  """Every parameter of the method, with the reference code's defaults.

  Two defaults differ, each chosen by measurement against the authors'
  published outputs: the noise (`noise_std`, now in units of the clip's own
  patch spread) and the completeness term (`alpha`), which the reference
  code leaves off for plain generation.

  Attributes:
    patch_size: (pt, ph, pw); None means (3, 7, 7) for videos and (1, 7, 7)
      for single images.
    time_factor: pyramid downscale factor per level in time.
    space_factor: pyramid downscale factor per level in space.
    min_frames: time stops shrinking at this many frames.
    min_side: space stops shrinking when the shorter side reaches this.
    max_levels: keep at most this many (finest) levels; None: all.
    scale: output size over input size, (sT, sH, sW); (1, 1, 1) keeps the size.
    noise_std: standard deviation of the Gaussian noise added at the coarsest
      level, in `noise_unit`s. The default, 20 patch spreads, was chosen on
      14 clips by two-fold cross-validation (experiments/results/
      diversity_curve.md): it gives more diversity than the authors'
      published outputs with better coherence on every clip that has them,
      and meets the shuffled-blocks coherence target on the others, where
      the earlier fixed 5.0 in value units (23-50 spreads, depending on the
      clip) was less coherent than the authors' on clips it was not tuned
      on. `noise.diversity_noise('low' | 'default' | 'high')` names points
      of the measured curve. Use 0 for retargeting without variation.
    noise_unit: what `noise_std` is measured in: 'patch_spread' (the
      default: multiples of the coarsest input level's `noise.patch_spread`,
      the mean distance from a patch to its nearest non-overlapping one, so
      that the same setting adds the same noise relative to each clip's own
      patches; DESIGN.md §1's rule of thumb) or 'value' (the video's units,
      [0, 1]; the reference code's 5 on [-1, 1] videos is 2.5 here).
    num_iters: J, iterations per level.
    coarsest_iters: J at the coarsest level.
    finest_iters: J at the finest levels, finest first, in place of
      `num_iters` (sketch-to-video: (1, 1)); () for none.
    reduce: 'median' (video default) or 'mean' (image default) fold.
    keys_rule: 'vgpnn' (keys become the values after one iteration) or 'gpnn'.
    alpha: completeness term of the search (GPNN's alpha; DESIGN.md §1):
      keys no query is close to yet become cheaper, so a variation keeps more
      of the input's content. None turns it off. It acts on the coarsest
      `alpha_levels` levels, where a variation's layout (and so which parts
      of the input it keeps) is set, and there only where the level runs
      exact search (so never under `search='patchmatch'`). On by default: on
      the five singangif clips it took completeness from worse than the
      authors' published outputs to better on every clip, with more
      diversity and coherence still better than theirs, at 4-20% more time
      (experiments/results/noise_sweep.md).
    alpha_levels: the completeness term acts on at most this many coarsest
      levels; None: on every level that runs exact search. On all 8 exact
      levels of a 144x256 clip it left 17% less completeness error than on
      the coarsest 5, for 9% worse coherence and more time.
    search: 'auto', 'exact' or 'patchmatch'.
    auto_exact_flops: with `search='auto'`, levels where one exact search
      costs at most this many flops use it, the others PatchMatch. The
      coarse levels, where a variation's layout is set, then run exact
      search: with PatchMatch on every level, outputs were 18% less coherent
      than with exact search, with PatchMatch on the finer half of the levels
      only within 2-6% (experiments/results/search_quality*.md).
    large_output_voxels: (J-to-1 threshold, small-patch threshold): levels
      whose output has more voxels than the first run one iteration, more than
      the second use a (pt, 5, 5) patch; None turns the rule off.
    chunk_size: queries per chunk of the exact search.
    layout_draws: the structure guard: run the levels from the coarsest to
      `guard_level` this many times per output (with keys folded from the
      output's) and go on from the draw whose patches lie nearest the
      input's at that level (`layout_coherence`); a broken or repeated
      object scores higher there. 1 draws once (no guard); with no noise
      (`noise_std` 0) the draws would be one layout, so one is drawn. The
      default, 2 draws compared at level 1, lowered the worst of 9 kept
      samples' coherence on all 5 clips measured (by 2-25%) and the mean by
      5-14%, for 7-12% less diversity (experiments/results/
      structure_guard.md).
    guard_level: the level, counted from the coarsest (0), at which the
      draws are compared; levels past the finest count as the finest.
    known_weight: with a guide's known region (an inpainting), the fold
      weighs each patch's votes by 1 + known_weight x the fraction of its
      voxels that are known (`pnn.StepOptions.known_weight`); 0: off. On
      three inpaintings (experiments/results/inpaint_seam.md) 4 lowered the
      error of the patches just outside the hole by 3-47% but raised the
      interior's more: the hole's coherence rose 5-42%. Off by default.
    match_weight: the fold weighs each patch's votes by its similarity to
      its nearest key, exp(-d / (match_weight x median d)) (Wexler et al.);
      0: off. At 1 the pedestrians inpainting's interior became 3x more
      coherent and its border ring 2x less (the seam sharpened; the hole
      40% worse).
    weight_levels: the vote weights act on at most this many coarsest
      levels; None: on every level.
    window_frames: temporal windows (off by default: None). The finest
      `window_levels` levels (never the coarsest) search and fold their
      output in overlapping windows of this many of the level's own frames
      (all of them where the level has fewer), each window with the whole
      input level as keys and values; the coarser levels see the whole clip.
      Neighbouring windows' outputs are blended by a linear ramp in time over
      the frames they share (`level_windows`). Not combined with a guide's
      region (`Guide.free`) or cue at a windowed level yet. The memory check
      counts the windows; `memory.fitting_windows` picks windows for a clip
      too long to fit whole (`generate --window-frames auto`).
    window_overlap: frames shared by neighbouring windows (the last window is
      moved back to end at the level's last frame, so it may share more).
    window_levels: how many of the finest levels run in windows.
    window_key_margin: None (the default): every window searches the whole
      input level. An integer: each window's keys and values are only the
      input level's frames it spans in time (its frames scaled by the
      level's input / output frame ratio) and this many more on either side,
      so that a windowed level's keys, values and PatchMatch key index hold
      a window's share of the clip, not all of it; its matches then reach at
      most that far in time from the window.
  """
  patch_size: tuple[int, int, int] | None = None
  time_factor: float = 0.85
  space_factor: float = 0.85
  min_frames: int = 3
  min_side: int = 15
  max_levels: int | None = None
  scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
  noise_std: float = 20.0
  noise_unit: str = 'patch_spread'
  num_iters: int = 5
  coarsest_iters: int = 1
  finest_iters: tuple[int, ...] = ()
  reduce: str = 'median'
  keys_rule: str = 'vgpnn'
  alpha: float | None = 1.0
  alpha_levels: int | None = 5
  search: str = 'auto'
  auto_exact_flops: float = DEFAULT_AUTO_EXACT_FLOPS
  large_output_voxels: tuple[int, int] | None = (3_000_000, 7_500_000)
  chunk_size: int = 1024
  layout_draws: int = 2
  guard_level: int = 1
  known_weight: float = 0.0
  match_weight: float = 0.0
  weight_levels: int | None = None
  window_frames: int | None = None
  window_overlap: int = 2
  window_levels: int = 1
  window_key_margin: int | None = None


# GPNN's image method (DESIGN.md §2), the defaults for a one-frame input:
# 7x7 patches, factor 0.75, 9 levels, noise 0.75 on [0, 1] images, J = 10 on
# every level, mean fold, keys kept blurred.
# No structure guard: it was measured on videos only.
IMAGE_DEFAULTS = dict(patch_size=(1, 7, 7), space_factor=0.75, max_levels=9,
                      noise_std=0.75, noise_unit='value', num_iters=10,
                      coarsest_iters=10, reduce='mean', keys_rule='gpnn',
                      alpha=None, layout_draws=1)
# Image retargeting uses the completeness term (GPNN: alpha 1e-3 to 5e-3) on
# every level.
IMAGE_RETARGET_ALPHA = 5e-3


def default_config(num_frames: int,
                   scale: Sequence[float] = (1.0, 1.0, 1.0)) -> Config:
  """The defaults for an input of `num_frames` frames and an output `scale`.

  Videos get `Config()`; a single image (one frame) gets `IMAGE_DEFAULTS`,
  with the completeness term on when it is retargeted.
  """
  if num_frames > 1:
    return Config()
  retarget = any(float(s) != 1.0 for s in scale)
  return Config(**IMAGE_DEFAULTS)._replace(
      alpha=IMAGE_RETARGET_ALPHA if retarget else None, alpha_levels=None)


def _resolve_config(config: Config | None, video: jax.Array,
                    overrides: dict) -> Config:
  if config is None:
    config = default_config(video.shape[0], overrides.get('scale', (1, 1, 1)))
  return make_config(config, **overrides)


class Level(NamedTuple):
  """The plan of one pyramid level.

  Attributes:
    input_size: (T, H, W) of the input at this level (keys and values).
    output_size: (T, H, W) of the output at this level.
    patch_size: (pt, ph, pw) used at this level.
    num_iters: J at this level.
    search: 'exact' or 'patchmatch'.
    alpha: the completeness term at this level (exact search only), or None.
  """
  input_size: pyramid.Size
  output_size: pyramid.Size
  patch_size: tuple[int, int, int]
  num_iters: int
  search: str
  alpha: float | None = None


def _whole(value) -> int | None:
  """`value` as an int if it is one (a Python or NumPy integer), else None."""
  try:
    return operator.index(value)
  except TypeError:
    return None


def _real(value) -> float:
  """`value` as a float if it is a number, else NaN (refused by the checks)."""
  if isinstance(value, (str, bytes)):
    return math.nan
  try:
    return float(value)
  except (TypeError, ValueError):
    return math.nan


def make_config(config: Config | None = None, **overrides) -> Config:
  """A `Config` from an optional base and keyword overrides (checked).

  Raises:
    TypeError: an unknown option.
    ValueError: a value of the wrong type or out of range, naming the field.
  """
  config = Config() if config is None else config
  unknown = set(overrides) - set(Config._fields)
  if unknown:
    raise TypeError(f'unknown option(s) {sorted(unknown)}; known: '
                    f'{list(Config._fields)}')
  config = config._replace(**overrides)
  if config.search not in SEARCH_MODES:
    raise ValueError(f'search must be one of {SEARCH_MODES}, got '
                     f'{config.search!r}')
  if not 0 <= _real(config.noise_std) <= MAX_NOISE_STD:  # also NaN
    raise ValueError(f'noise_std must be a number from 0 to '
                     f'{MAX_NOISE_STD:g}, got {config.noise_std}')
  try:
    scale = tuple(float(s) for s in config.scale)
  except (TypeError, ValueError):
    scale = ()
  if len(scale) != 3 or not all(math.isfinite(s) and s > 0 for s in scale):
    raise ValueError(f'scale must be three positive finite numbers '
                     f'(sT, sH, sW), got {config.scale}')
  if config.max_levels is not None and not (
      _whole(config.max_levels) is not None and config.max_levels >= 1):
    raise ValueError(f'max_levels must be >= 1 (an integer) or None, got '
                     f'{config.max_levels!r}')
  patch = config.patch_size
  if patch is not None:
    try:
      patch = tuple(_whole(p) for p in patch)
    except TypeError:
      patch = ()
    if len(patch) != 3 or any(p is None or p < 1 for p in patch):
      raise ValueError(f'patch_size must be None or 3 positive integers '
                       f'(pt, ph, pw), got {config.patch_size!r}')
  if not 0 < _real(config.time_factor) <= 1:
    raise ValueError(f'time_factor must be in (0, 1], got '
                     f'{config.time_factor!r}')
  if not 0 < _real(config.space_factor) < 1:
    raise ValueError(f'space_factor must be in (0, 1) (1 would never '
                     f'shrink), got {config.space_factor!r}')
  chunk = _whole(config.chunk_size)
  if chunk is None or chunk < 1:
    raise ValueError(f'chunk_size must be an integer >= 1, got '
                     f'{config.chunk_size!r}')
  if config.large_output_voxels is not None:
    try:
      thresholds = tuple(_real(v) for v in config.large_output_voxels)
    except TypeError:
      thresholds = ()
    if len(thresholds) != 2 or not all(v == v for v in thresholds):
      raise ValueError(f'large_output_voxels must be None or two numbers '
                       f'(J-to-1, small-patch thresholds), got '
                       f'{config.large_output_voxels!r}')
  if not (isinstance(config.layout_draws, int) and config.layout_draws >= 1):
    raise ValueError(f'layout_draws must be an integer >= 1, got '
                     f'{config.layout_draws!r}')
  if not (isinstance(config.guard_level, int) and config.guard_level >= 0):
    raise ValueError(f'guard_level must be an integer >= 0, got '
                     f'{config.guard_level!r}')
  if config.noise_unit not in NOISE_UNITS:
    raise ValueError(f'noise_unit must be one of {NOISE_UNITS}, got '
                     f'{config.noise_unit!r}')
  try:
    iters = [config.num_iters, config.coarsest_iters, *config.finest_iters]
  except TypeError:  # finest_iters is not a sequence
    iters = [None]
  if any(_whole(j) is None or j < 1 for j in iters):
    raise ValueError(f'num_iters, coarsest_iters and finest_iters must be '
                     f'integers >= 1 (finest_iters a tuple of them), got '
                     f'{config.num_iters!r}, {config.coarsest_iters!r} and '
                     f'{config.finest_iters!r}')
  if not _real(config.auto_exact_flops) >= 0:
    raise ValueError(f'auto_exact_flops must be >= 0, got '
                     f'{config.auto_exact_flops}')
  if config.alpha is not None and not 0 < _real(config.alpha) < math.inf:
    # An infinite alpha makes every normalised distance 0: all ties.
    raise ValueError(f'alpha must be positive and finite, or None, got '
                     f'{config.alpha!r}')
  for name in ('known_weight', 'match_weight'):
    if not 0 <= _real(getattr(config, name)) < math.inf:
      raise ValueError(f'{name} must be a finite number >= 0 (0: off), got '
                       f'{getattr(config, name)!r}')
  if config.weight_levels is not None and not (
      _whole(config.weight_levels) is not None and config.weight_levels >= 0):
    raise ValueError(f'weight_levels must be an integer >= 0 or None, got '
                     f'{config.weight_levels!r}')
  if config.alpha_levels is not None and not _real(config.alpha_levels) >= 0:
    raise ValueError(f'alpha_levels must be >= 0 or None, got '
                     f'{config.alpha_levels}')
  _check_windows(config)
  pnn.check_options(pnn.StepOptions(
      reduce=config.reduce, keys_rule=config.keys_rule,
      search='exact' if config.search == 'auto' else config.search,
      # Checked where it can act: PatchMatch levels run without it.
      alpha=None if config.search == 'patchmatch' else config.alpha))
  return config._replace(scale=scale, patch_size=patch, chunk_size=chunk,
                         known_weight=float(config.known_weight),
                         match_weight=float(config.match_weight),
                         finest_iters=tuple(int(j)
                                            for j in config.finest_iters))


def _check_windows(config: Config) -> None:
  """ValueError unless the window options are integers in range."""
  frames = config.window_frames
  if frames is not None and not (_whole(frames) is not None and frames >= 1):
    raise ValueError(f'window_frames must be an integer >= 1 (frames per '
                     f'window) or None (no windows), got {frames!r}')
  overlap = _whole(config.window_overlap)
  if overlap is None or overlap < 0:
    raise ValueError(f'window_overlap must be an integer >= 0, got '
                     f'{config.window_overlap!r}')
  if frames is not None and overlap >= frames:
    raise ValueError(f'window_overlap ({overlap}) must be smaller than '
                     f'window_frames ({frames}): give longer windows or a '
                     f'smaller overlap')
  if not (_whole(config.window_levels) is not None and
          config.window_levels >= 1):
    raise ValueError(f'window_levels must be an integer >= 1, got '
                     f'{config.window_levels!r}')
  margin = config.window_key_margin
  if margin is not None and not (_whole(margin) is not None and margin >= 0):
    raise ValueError(f'window_key_margin must be an integer >= 0 (frames of '
                     f'keys beyond a window\'s own) or None (all of them), '
                     f'got {margin!r}')


def patch_size_for(config: Config, num_frames: int) -> tuple[int, int, int]:
  """`config.patch_size`, or when None (3, 7, 7) for videos, (1, 7, 7) for
  single images."""
  patch = config.patch_size
  if patch is None:
    patch = (3, 7, 7) if num_frames > 1 else (1, 7, 7)
  return tuple(int(p) for p in patch)


def plan_levels(size: Sequence[int], config: Config,
                channels: int = 3) -> list[Level]:
  """The level plan for an input of `size` (T, H, W), finest level first.

  Raises:
    InputError: when the coarsest input or output level cannot hold a patch.
  """
  size = tuple(int(s) for s in size)
  patch = patch_size_for(config, size[0])
  if min(size) < 1:
    raise errors.InputError(
        f'the video is empty: {size[0]} frame(s) of {size[1]}x{size[2]} '
        f'pixels; give at least one frame (check --frames)')
  if size[0] < patch[0]:
    raise errors.InputError(
        f'the video has {size[0]} frame(s), fewer than the {patch[0]}-frame '
        f'patch; give at least {patch[0]} frames (check --frames) or a '
        f'patch of 1 frame')
  if size[1] < patch[1] or size[2] < patch[2]:
    raise errors.InputError(
        f'the video is {size[1]}x{size[2]} pixels, smaller than the '
        f'{patch[1]}x{patch[2]} patch; use a larger video or a smaller patch')
  sizes = pyramid.level_sizes(
      size, time_factor=config.time_factor, space_factor=config.space_factor,
      min_frames=max(config.min_frames, patch[0]),
      min_side=max(config.min_side, patch[1], patch[2]),
      max_levels=config.max_levels)
  out_sizes = pyramid.output_sizes(sizes, config.scale)
  pyramid.check_fits_patch(sizes, out_sizes, patch)
  levels = []
  for index, (in_size, out_size) in enumerate(zip(sizes, out_sizes)):
    level_patch, iters = patch, config.num_iters
    if index < len(config.finest_iters):
      iters = config.finest_iters[index]
    if index == len(sizes) - 1:
      iters = config.coarsest_iters
    voxels = out_size[0] * out_size[1] * out_size[2]
    if config.large_output_voxels is not None:
      one_iter_above, small_patch_above = config.large_output_voxels
      if voxels > one_iter_above:
        iters = 1
      if voxels > small_patch_above:
        level_patch = (patch[0], min(patch[1], 5), min(patch[2], 5))
    search = config.search
    if search == 'auto':
      cost = pnn.exact_cost(out_size, in_size, level_patch, channels)
      search = 'exact' if cost <= config.auto_exact_flops else 'patchmatch'
    coarse = (config.alpha_levels is None or
              index >= len(sizes) - config.alpha_levels)
    alpha = config.alpha if search == 'exact' and coarse else None
    levels.append(Level(in_size, out_size, level_patch, iters, search,
                        alpha))
  return levels


class Windows(NamedTuple):
  """The time windows of one level's output (`Config.window_frames`).

  Attributes:
    frames: frames of the level's output.
    size: frames per window (all windows have this size: one program).
    starts: the first frame of each window, increasing; the last window ends
      at the level's last frame.
    key_size: frames of the input level each window searches
      (`Config.window_key_margin`); None: all of them.
    key_starts: with a `key_size`, each window's first key frame.
  """
  frames: int
  size: int
  starts: tuple[int, ...]
  key_size: int | None = None
  key_starts: tuple[int, ...] = ()


def key_window_starts(input_frames: int, frames: int, size: int,
                      starts: Sequence[int],
                      margin: int) -> tuple[int | None, tuple[int, ...]]:
  """The input frames each time window searches (`Config.window_key_margin`).

  A window of `size` of the level's `frames` output frames spans
  `size * input_frames / frames` input frames; its keys are those and
  `margin` more on either side, centred on the window's own span and moved
  back inside the input where they would cross its ends.

  Returns:
    (key_size, key_starts): frames per key window and each window's first
    key frame; (None, ()) where a key window would be the whole input.
  """
  ratio = input_frames / frames
  key_size = min(input_frames, math.ceil(size * ratio) + 2 * int(margin))
  if key_size == input_frames:
    return None, ()
  return key_size, tuple(
      int(np.clip(round((start + size / 2) * ratio - key_size / 2), 0,
                  input_frames - key_size)) for start in starts)


def level_windows(levels: Sequence[Level],
                  config: Config) -> list[Windows | None]:
  """Every level's time windows, finest first; None where it runs whole.

  The finest `config.window_levels` levels, never the coarsest, run in
  windows of `config.window_frames` of their frames (one window of all of
  them where the level has fewer), `window_overlap` apart from the next;
  the last window is moved back to end at the last frame rather than being
  shorter, so it may share more frames with the one before.

  Args:
    levels: the plan (`plan_levels`), finest first.
    config: the windows' options.

  Returns:
    [len(levels)] `Windows` or None.

  Raises:
    ValueError: a window shorter than its level's patch.
  """
  windows = [None] * len(levels)
  if config.window_frames is None:
    return windows
  for index in range(min(config.window_levels, len(levels) - 1)):
    level = levels[index]
    frames = level.output_size[0]
    size = min(int(config.window_frames), frames)
    if size < level.patch_size[0]:
      raise ValueError(
          f'window_frames={config.window_frames} is shorter than the '
          f'{level.patch_size[0]}-frame patch at the {level.output_size} '
          f'level; use window_frames >= {level.patch_size[0]}')
    step = size - int(config.window_overlap)
    count = 1 if size == frames else 1 + -(-(frames - size) // step)
    starts = tuple(min(k * step, frames - size) for k in range(count))
    key_size, key_starts = None, ()
    if config.window_key_margin is not None:
      key_size, key_starts = key_window_starts(
          level.input_size[0], frames, size, starts, config.window_key_margin)
      if key_size is not None and key_size < level.patch_size[0]:
        raise ValueError(
            f'window_key_margin={config.window_key_margin} leaves '
            f'{key_size} key frames, fewer than the {level.patch_size[0]}-'
            f'frame patch at the {level.output_size} level; give a larger '
            f'margin')
    windows[index] = Windows(frames, size, starts, key_size, key_starts)
  return windows


def window_weights(windows: Windows,
                   patch_frames: int) -> tuple[np.ndarray, np.ndarray]:
  """How each window enters its level's output and field.

  The windows are put in one after the other. A window's output replaces
  the level's output so far by `ramp * window + (1 - ramp) * so far`, frame
  by frame: a linear ramp over the L frames it shares with the earlier
  windows, (i + 1) / (L + 1) at its i-th frame, and 1 after them, so a voxel
  only one window covers is exactly that window's fold, and one two windows
  share a weighted mean of their folds. The level's field takes each patch
  corner from the window it lies deepest in (furthest from that window's
  first and last corner; the earlier window on a tie), so that the finer
  level starts from matches made away from the windows' ends.

  Args:
    windows: the level's windows.
    patch_frames: pt, the level's patch frames.

  Returns:
    ramps: [num windows, size] float32 (all ones for the first window).
    owned: [num windows, size - pt + 1] bool, each corner owned once.
  """
  size, starts = windows.size, np.asarray(windows.starts)
  ramps = np.ones((len(starts), size), np.float32)
  for k in range(1, len(starts)):
    shared = starts[k - 1] + size - starts[k]
    ramps[k, :shared] = (np.arange(shared) + 1) / (shared + 1)
  corners = size - patch_frames + 1
  grid = np.arange(windows.frames - patch_frames + 1)
  offset = grid[None, :] - starts[:, None]  # [num windows, level corners]
  inside = (offset >= 0) & (offset < corners)
  depth = np.where(inside, np.minimum(offset, corners - 1 - offset), -1)
  owner = np.argmax(depth, axis=0)  # the first window on a tie
  owned = np.zeros((len(starts), corners), bool)
  for k, start in enumerate(starts):
    owned[k] = owner[start:start + corners] == k
  return ramps, owned


def missing_axes(shape: tuple[int, ...]) -> str:
  """What a video of `shape` (not 4-D) lacks, and how to add it."""
  if len(shape) == 3 and shape[-1] in (1, 3, 4):
    return ('it looks like one [H, W, C] image: add the frame axis '
            '(video[None])')
  if len(shape) == 3:
    return ('it looks like a [T, H, W] grey video: add the channel axis '
            '(video[..., None], or np.repeat(video[..., None], 3, -1) for RGB)')
  if len(shape) == 2:
    return ('it looks like one [H, W] grey image: add the frame and channel '
            'axes (video[None, ..., None])')
  return 'give a [frames, height, width, channels] array'


def check_video_values(video: jax.Array, what: str = 'the video') -> None:
  """Raises `InputError` unless `video`'s values are finite and in [0, 1].

  Values up to `VALUE_SLACK` outside [0, 1] pass (a cubic resize overshoots a
  little). A traced video (under `jax.jit`) is not checked: its values are
  unknown, and the check must not make the caller untraceable.

  Args:
    video: [T, H, W, C] float array.
    what: the video's name in the message.
  """
  if isinstance(video, jax.core.Tracer) or video.size == 0:
    return
  # jnp.min and jnp.max do not always propagate a NaN (XLA:CPU).
  finite, low, high = jax.device_get((jnp.all(jnp.isfinite(video)),
                                      jnp.min(video), jnp.max(video)))
  low, high = float(low), float(high)
  if not finite:
    raise errors.InputError(
        f'{what} holds NaN or infinite values; give finite values in [0, 1] '
        f'(e.g. np.nan_to_num, or fix the computation that made them)')
  if high > 1 + VALUE_SLACK:
    raise errors.InputError(
        f'{what} has values up to {high:g}, but videos are floats in [0, 1]; '
        f'divide 8-bit values (0-255) by 255')
  if low < -VALUE_SLACK:
    raise errors.InputError(
        f'{what} has values down to {low:g}, but videos are floats in [0, 1]; '
        f'map a [-1, 1] video to it with (video + 1) / 2, or clip')


def _check_video(video: jax.Array) -> jax.Array:
  # Before the device copy: a huge (broadcast, memory-mapped) input is
  # refused, not allocated.
  _check_array_fits(np.shape(video), 'the video')
  video = jnp.asarray(video)
  if video.ndim != 4:
    raise errors.InputError(
        f'expected a video of shape [frames, height, width, channels], got '
        f'shape {video.shape}: {missing_axes(video.shape)}')
  if not jnp.issubdtype(video.dtype, jnp.floating):
    raise errors.InputError(
        f'expected a float video in [0, 1], got dtype {video.dtype}; divide '
        f'uint8 frames by 255')
  if 0 in video.shape:
    raise errors.InputError(
        f'the video is empty (shape {video.shape}); give at least one frame '
        f'of at least one pixel and channel')
  check_video_values(video)
  return video.astype(jnp.float32)


def _check_array_fits(shape: tuple[int, ...], what: str) -> None:
  """`memory.check_array_fits` (imported here: memory imports this module)."""
  from vgpnn_jax import memory  # pylint: disable=g-import-not-at-top
  memory.check_array_fits(shape, what)


def _check_memory(levels: Sequence[Level], channels: int, batch: int,
                  config: Config) -> None:
  """`memory.check_fits`: InputError for a request that cannot fit in the
  free memory, before anything is allocated or compiled."""
  from vgpnn_jax import memory  # pylint: disable=g-import-not-at-top
  memory.check_fits(levels, channels, batch, chunk_size=config.chunk_size,
                    config=config)


def _check_key(key, batched: bool) -> jax.Array:
  """`key` as a key array: one key, or [N] keys when `batched`.

  Takes new-style keys (`jax.random.key`) and raw uint32 ones
  (`jax.random.PRNGKey`: one is [2]).

  Raises:
    TypeError: `key` is not a PRNG key (e.g. an int seed).
    ValueError: a batch where one key is expected, or the other way round.
  """
  name = 'generate_batch' if batched else 'generate'
  how = ('a batch of keys, jax.random.split(jax.random.key(seed), N)'
         if batched else 'one key, jax.random.key(seed)')
  dtype = getattr(key, 'dtype', None)
  typed = dtype is not None and jax.dtypes.issubdtype(dtype,
                                                      jax.dtypes.prng_key)
  raw = dtype == jnp.uint32 and jnp.shape(key)[-1:] == (2,)
  if not (typed or raw):
    shown = f'{type(key).__name__} {key!r}' if dtype is None else (
        f'an array of dtype {dtype} and shape {jnp.shape(key)}')
    raise TypeError(f'{name} takes {how}, as its first argument; got '
                    f'{shown}')
  key = jnp.asarray(key)
  keys_shape = key.shape if typed else key.shape[:-1]
  if len(keys_shape) != int(batched):
    other = ('for one key use generate' if batched else
             'for several keys use generate_batch')
    raise ValueError(f'{name} takes {how}; got keys of shape {keys_shape} '
                     f'({other})')
  return key


def key_for_seed(seed: int) -> jax.Array:
  """A PRNG key for any integer seed >= 0, a distinct key for every seed.

  `jax.random.key` takes its seed modulo 2**32 (and overflows from 2**63);
  here seeds below 2**32 give exactly `jax.random.key(seed)`, and the higher
  32-bit words of a larger seed are folded in (`jax.random.fold_in`).

  Raises:
    ValueError: a negative seed.
    TypeError: a seed that is not an integer.
  """
  seed = operator.index(seed)
  if seed < 0:
    raise ValueError(f'seed must be >= 0, got {seed}')
  key = jax.random.key(seed & 0xFFFFFFFF)
  seed >>= 32
  while seed:
    key = jax.random.fold_in(key, seed & 0xFFFFFFFF)
    seed >>= 32
  return key


ProgressFn = Callable[[int, int, Level, jax.Array], None]


class Guide(NamedTuple):
  """What an application asks of a generation besides its input video.

  Every field is optional; with none the generation is a plain variation.
  Sizes are the output's (T', H', W') = input size times `Config.scale`.

  Attributes:
    start: [T', H', W', C] the first guess, resized to the coarsest output
      level (where the noise is added) instead of the coarsest input: an
      inpainting's filled hole, a user's rough edit.
    free: [T', H', W'] bool, where the output may change; elsewhere it is
      `known`, exactly. Resized to every level so that it never shrinks
      (`masks.resize_mask`); when it is concrete, the finer levels search and
      fold only the query patches that touch it (its bounding box grown by a
      patch), so an edit costs what its region costs.
    known: [T', H', W', C] the output outside `free` (needed with `free`).
    source_hole: [T, H, W] bool over the input: no chosen patch (key or
      value, at any level) holds a voxel that draws on it.
    source_cuts: frames of the input where another video begins (videos
      joined in time to take patches from all): no chosen patch spans one.
    query_cue: [T', H', W', Cc] extra channels the output's patches are
      matched by (an analogy's motion cue of the structure video), with
      `key_cue`. At the coarsest `cue_levels` levels the search compares
      (colours, cue) patches, queries carrying `query_cue` and keys
      `key_cue`, both resized to the level; the values folded are colours
      only. Scale the cues to weigh them against the colours.
    key_cue: [T, H, W, Cc] the input's cue (needed with `query_cue`).
    cue_levels: how many of the coarsest levels use the cue; None: the
      coarse half, ceil(levels / 2).
  """
  start: jax.Array | None = None
  free: jax.Array | None = None
  known: jax.Array | None = None
  source_hole: jax.Array | None = None
  source_cuts: tuple[int, ...] = ()
  query_cue: jax.Array | None = None
  key_cue: jax.Array | None = None
  cue_levels: int | None = None


class _LevelGuide(NamedTuple):
  """A guide at one level: the arrays its programs take (None: unguided)."""
  start: jax.Array | None = None  # the guide's start (coarsest level only)
  fixed: jax.Array | None = None  # [*box size, C] NaN where free, else kept
  key_valid: jax.Array | None = None  # [*key grid] bool
  known: jax.Array | None = None  # [*output size, C] outside the box


class _LevelProgram(NamedTuple):
  """Static description of one level's compiled program (a jit cache key)."""
  options: pnn.StepOptions
  output_size: pyramid.Size
  coarse_key_grid: tuple[int, int, int] | None  # grid of the previous field
  noise_std: float  # used at the coarsest level only
  # The (origin, size) of the queries searched, or None for all of them.
  box: tuple[pyramid.Size, pyramid.Size] | None = None
  # `patchmatch.upscale_field`'s crops from the coarser level, if cropped.
  upscale_crops: tuple | None = None
  noise_unit: str = 'value'  # `Config.noise_unit`
  # Frames of a time window searched per call (its first frame an argument
  # of the start), or None: the level runs whole (`level_windows`).
  window: int | None = None
  # Input frames a window searches (its first key frame an argument of the
  # start), or None: all of them (`Windows.key_size`).
  key_window: int | None = None


def _step_options(level: Level, config: Config,
                  weighted: bool = True) -> pnn.StepOptions:
  """The level's static step options; `weighted`: whether the fold's vote
  weights (`known_weight`, `match_weight`) act at this level."""
  return pnn.StepOptions(
      patch_size=level.patch_size, num_iters=level.num_iters,
      reduce=config.reduce, keys_rule=config.keys_rule, search=level.search,
      alpha=level.alpha,
      chunk_size=config.chunk_size,
      known_weight=config.known_weight if weighted else 0.0,
      match_weight=config.match_weight if weighted else 0.0)


def _box_index(box) -> tuple[slice, ...]:
  """The slices of a `box` = (origin, size) over (T, H, W)."""
  origin, size = box
  return tuple(slice(o, o + n) for o, n in zip(origin, size))


def _crop(video: jax.Array, box) -> jax.Array:
  """The `box` of a [T, H, W, ...] array (None: all of it)."""
  return video if box is None else video[_box_index(box)]


def _coarsest_start(key, values, guide_start, fixed, key_valid,
                    program: _LevelProgram):
  """[Tk, Hk, Wk, C] coarsest input -> (queries, keys, field, indexes).

  The initial guess: the coarsest input (or the guide's start) resized to the
  output size, plus Gaussian noise, with the fixed voxels put back.
  `indexes` as `pnn.key_indexes`.
  """
  noise_key, field_key = jax.random.split(key)
  start = resize_lib.resize(values if guide_start is None else guide_start,
                            program.output_size)
  # A colour start gets the cue's channels from `fixed` (put back below).
  extra = values.shape[-1] - start.shape[-1]
  start = jnp.pad(start, ((0, 0),) * 3 + ((0, extra),))
  start = _crop(start, program.box)
  sigma = program.noise_std
  if program.noise_unit == 'patch_spread' and sigma > 0:
    sigma = sigma * noise_lib.patch_spread(values, program.options.patch_size)
  queries = start + sigma * jax.random.normal(noise_key,
                                                          start.shape)
  queries = pnn.keep_fixed(queries, fixed)
  indexes = pnn.key_indexes(values, values, program.options)
  field = pnn.start_field(field_key, queries, values, program.options,
                          None if indexes is None else indexes[0], key_valid)
  return queries, values, field, indexes


def _finer_start(previous, previous_field, coarse_values, values, fixed,
                 key_valid, first_frame=None, key_first=None, *,
                 program: _LevelProgram):
  """The start of a finer level: the coarser output and field, upscaled.

  Args:
    previous: [T', H', W', C'] the coarser level's (whole) output (C' >= C:
      the cue's channels are dropped where this level has none).
    previous_field: [nT', nH', nW', 3] the coarser level's field (of its
      box, if it has one).
    coarse_values: [T'', H'', W'', C] the coarser input level.
    values: [Tk, Hk, Wk, C] this (whole) input level.
    fixed: None, or [*box size, C] the voxels kept (`pnn.keep_fixed`).
    key_valid: None, or the key patches that may be chosen.
    first_frame: with a `program.window`, int32 scalar: the window's first
      frame (traced: the windows of a level share one program).
    key_first: with a `program.window`, int32 scalar: the window's first key
      frame (ignored without a `program.key_window`).
    program: static sizes and options.

  Returns:
    queries [*box size, C] (the box is the whole output when the program has
    none; with a window, [window, H', W', C] from `first_frame`), keys
    [Tk, Hk, Wk, C] (the coarser input upscaled: as blurred as the upscaled
    queries; with a `program.key_window`, its [key_window, Hk, Wk, C] from
    `key_first`), field [*grid, 3] (into the keys returned), and PatchMatch's
    key indexes (`pnn.key_indexes`: computed once here rather than in every
    iteration; the later iterations' is left to `pnn.consume_iterations`)
    or None.
  """
  del key_valid  # the first search redraws matches of invalid keys
  options = program.options
  # Below the cue's levels the coarser output's cue channels are dropped.
  previous = previous[..., :values.shape[-1]]
  if program.window is not None and program.window < program.output_size[0]:
    return _window_start(previous, previous_field, coarse_values,
                         values.shape[:3], first_frame, key_first, program)
  queries = resize_lib.resize(previous, program.output_size)
  queries = pnn.keep_fixed(_crop(queries, program.box), fixed)
  keys = resize_lib.resize(coarse_values, values.shape[:3])
  grid = patches_lib.grid_shape(queries.shape[:3], options.patch_size)
  if options.search == 'patchmatch':
    # Start from the coarser level's matches rather than at random.
    field = patchmatch.upscale_field(
        previous_field,
        (grid, patches_lib.grid_shape(values.shape[:3], options.patch_size)),
        source_key_grid=program.coarse_key_grid,
        crops=program.upscale_crops)
  else:
    field = jnp.zeros(grid + (3,), jnp.int32)  # ignored by the exact search
  if program.window is not None:
    # The window of the whole level's start: each voxel and corner is what
    # the unwindowed start makes there.
    queries = jax.lax.dynamic_slice_in_dim(queries, first_frame,
                                           program.window)
    field = jax.lax.dynamic_slice_in_dim(
        field, first_frame, program.window - options.patch_size[0] + 1)
  return queries, keys, field, pnn.key_indexes(keys, values, options,
                                               later=False)


def _window_start(previous, previous_field, coarse_values, input_size,
                  first_frame, key_first, program: _LevelProgram):
  """`_finer_start` of one time window shorter than its level, made alone.

  The window's queries and field are the frames of the whole level's start
  from `first_frame` (`resize_lib.resize_frames`, `upscale_field(frames=)`),
  made without the whole of either; so are its keys with a
  `program.key_window` (from `key_first`), the field's matches then moved
  into them (those beyond are put at the nearest key frame).
  """
  assert program.box is None, 'no box with windows (_check_windowed_guides)'
  options = program.options
  queries = resize_lib.resize_frames(previous, program.output_size,
                                     first_frame, program.window)
  grid = patches_lib.grid_shape(queries.shape[:3], options.patch_size)
  if program.key_window is None:
    keys = resize_lib.resize(coarse_values, input_size)
  else:
    keys = resize_lib.resize_frames(coarse_values, input_size, key_first,
                                    program.key_window)
  if options.search == 'patchmatch':
    field = patchmatch.upscale_field(
        previous_field,
        (patches_lib.grid_shape(program.output_size, options.patch_size),
         patches_lib.grid_shape(input_size, options.patch_size)),
        source_key_grid=program.coarse_key_grid,
        crops=program.upscale_crops,
        frames=(first_frame, grid[0]))
    if program.key_window is not None:
      last = keys.shape[0] - options.patch_size[0]  # the last key corner
      field = field.at[..., 0].set(jnp.clip(field[..., 0] - key_first, 0,
                                            last))
  else:
    field = jnp.zeros(grid + (3,), jnp.int32)  # ignored by the exact search
  return queries, keys, field, pnn.key_indexes(keys, keys, options,
                                               later=False)


@functools.lru_cache(maxsize=None)
def _compiled_start(program: _LevelProgram, coarsest: bool, batched: bool):
  """The jitted start of one level (vmapped over the batch axis)."""
  if coarsest:
    fn = functools.partial(_coarsest_start, program=program)
    in_axes, out_axes = (0, None, None, None, None), (0, None, 0, None)
  else:
    fn = functools.partial(_finer_start, program=program)
    in_axes, out_axes = (0, 0, None, None, None, None), (0, None, 0, None)
    if program.window is not None:
      in_axes += (None, None)  # the first frame and key frame, shared
  if batched:
    fn = sharding.batch_split(
        jax.vmap(fn, in_axes=in_axes, out_axes=out_axes),
        [i for i, axis in enumerate(in_axes) if axis == 0],
        [i for i, axis in enumerate(out_axes) if axis == 0])
  return jax.jit(fn)


@functools.lru_cache(maxsize=None)
def _pyramid_program(sizes: tuple[pyramid.Size, ...]):
  """The jitted pyramid for these level sizes: one program, not 15 resizes."""
  return jax.jit(functools.partial(pyramid.build_pyramid, sizes=sizes))


def _programs(levels: Sequence[Level], config: Config,
              boxes: Sequence | None = None,
              windows: Sequence | None = None) -> list[_LevelProgram]:
  """The static program of every level, finest first.

  `boxes` gives each level's query box ((origin, size) or None for the whole
  output), from `_guide_levels`; `windows` each level's `Windows` or None
  (`level_windows`; None: no level runs in windows).
  """
  boxes = [None] * len(levels) if boxes is None else boxes
  windows = [None] * len(levels) if windows is None else windows
  programs = []
  for index, level in enumerate(levels):
    coarse_key_grid = upscale_crops = None
    if index + 1 < len(levels):
      coarser = levels[index + 1]
      coarse_key_grid = patches_lib.grid_shape(coarser.input_size,
                                               coarser.patch_size)
      if boxes[index] is not None or boxes[index + 1] is not None:
        upscale_crops = tuple(
            ((0, 0, 0) if box is None else box[0],
             patches_lib.grid_shape(lvl.output_size, lvl.patch_size))
            for box, lvl in ((boxes[index], level),
                             (boxes[index + 1], coarser)))
    # Only the coarsest start draws noise: the finer levels' programs do not
    # depend on it, so another noise compiles one start, not every level's.
    coarsest = index == len(levels) - 1
    programs.append(_LevelProgram(
        _step_options(level, config,
                      config.weight_levels is None or
                      index >= len(levels) - config.weight_levels),
        level.output_size, coarse_key_grid,
        float(config.noise_std) if coarsest else 0.0, boxes[index],
        upscale_crops, config.noise_unit if coarsest else 'value',
        None if windows[index] is None else windows[index].size,
        None if windows[index] is None else windows[index].key_size))
  return programs


def _across_cuts(cuts: Sequence[int], num_frames: int, level_frames: int,
                 patch_frames: int) -> np.ndarray:
  """[level_frames - patch_frames + 1] bool: patch corners spanning a cut.

  A level's frame belongs to the video its centre falls in.
  """
  centres = (np.arange(level_frames) + 0.5) * num_frames / level_frames
  video = np.searchsorted(np.asarray(sorted(cuts)), centres, side='right')
  corners = np.arange(level_frames - patch_frames + 1)
  return video[corners] != video[corners + patch_frames - 1]


@functools.partial(jax.jit, static_argnames=('plan', 'cuts', 'channels'))
def _guide_arrays(guide: Guide, plan, cuts=(), channels=3):
  """Per level (finest first): (free, fixed, key_valid, known) or Nones.

  `plan` holds per level (input size, output size, patch size, coarser input
  size or None, whether the level uses the cue); `cuts` are the guide's
  `source_cuts`, `channels` the video's. One program for all levels: these
  are many small resizes.
  """
  num_frames = plan[0][0][0]
  arrays = []
  for in_size, out_size, patch, coarser_in, with_cue in plan:
    free = fixed = key_valid = known = None
    if guide.free is not None:
      free = masks_lib.resize_mask(guide.free, out_size)
      known = guide.known
      if known.shape[:3] != out_size:
        known = resize_lib.resize(known, out_size)
      fixed = jnp.where(free[..., None], jnp.nan, known)
    if with_cue:
      # The queries' cue channels are kept, like known voxels: every fold
      # writes the values' cue there, and the structure's is put back.
      colours = fixed if fixed is not None else jnp.full(
          out_size + (channels,), jnp.nan, jnp.float32)
      cue = resize_lib.resize(guide.query_cue, out_size)
      fixed = jnp.concatenate([colours, cue], axis=-1)
      if known is not None:
        known = jnp.concatenate([known, cue], axis=-1)
    if guide.source_hole is not None:
      hole = masks_lib.resize_mask(guide.source_hole, in_size)
      if coarser_in is not None:
        # The first iteration's keys are the coarser input upscaled.
        hole = hole | masks_lib.resize_mask(
            masks_lib.resize_mask(guide.source_hole, coarser_in), in_size)
      key_valid = masks_lib.valid_patches(hole, patch)
    if cuts:
      across = _across_cuts(cuts, num_frames, in_size[0], patch[0])
      grid = patches_lib.grid_shape(in_size, patch)
      spans = jnp.broadcast_to(jnp.asarray(~across)[:, None, None], grid)
      key_valid = spans if key_valid is None else key_valid & spans
    arrays.append((free, fixed, key_valid, known))
  return arrays


def _check_guide(guide: Guide, video: jax.Array,
                 output_size: pyramid.Size) -> Guide:
  """The guide with arrays of the right dtypes (InputError if mis-shaped)."""
  channels = video.shape[3]
  def check(name, x, shape, dtype, of='output'):
    if x is None:
      return None
    x = jnp.asarray(x)
    if x.shape != shape:
      raise errors.InputError(
          f'the guide\'s {name} has shape {x.shape}, expected {shape} (the '
          f'{of} size); resize it to the {of}')
    return x.astype(dtype)
  out = Guide(
      start=check('start', guide.start, output_size + (channels,),
                  jnp.float32),
      free=check('mask', guide.free, output_size, jnp.bool_),
      known=check('known video', guide.known, output_size + (channels,),
                  jnp.float32),
      source_hole=check('source hole', guide.source_hole, video.shape[:3],
                        jnp.bool_, 'input'),
      source_cuts=tuple(sorted(int(c) for c in guide.source_cuts)),
      cue_levels=None if guide.cue_levels is None else int(guide.cue_levels))
  if (guide.query_cue is None) != (guide.key_cue is None):
    raise ValueError('a guide gives both query_cue and key_cue, or neither')
  if guide.query_cue is not None:
    cue_channels = jnp.shape(guide.query_cue)[-1:]
    out = out._replace(
        query_cue=check('query cue', guide.query_cue,
                        output_size + cue_channels, jnp.float32),
        key_cue=check('key cue', guide.key_cue,
                      video.shape[:3] + cue_channels, jnp.float32, 'input'))
  if out.cue_levels is not None and out.cue_levels < 0:
    raise ValueError(f'cue_levels must be >= 0 or None, got '
                     f'{out.cue_levels}')
  if any(not 0 < c < video.shape[0] for c in out.source_cuts):
    raise ValueError(f'source_cuts must be inside the input\'s '
                     f'{video.shape[0]} frames, got {out.source_cuts}')
  if (out.free is None) != (out.known is None):
    raise ValueError('a guide gives both free and known, or neither')
  return out


def cue_level_count(guide: Guide | None, num_levels: int) -> int:
  """How many of the coarsest of `num_levels` levels use the guide's cue."""
  if guide is None or guide.query_cue is None:
    return 0
  if guide.cue_levels is None:
    return -(-num_levels // 2)
  return min(int(guide.cue_levels), num_levels)


def _level_channels(guide: Guide | None, levels: Sequence[Level],
                    channels: int) -> list[int]:
  """Channels of every level's videos, finest first: colours (+ the cue)."""
  with_cue = len(levels) - cue_level_count(guide, len(levels))
  cue = 0 if guide is None or guide.query_cue is None else (
      guide.query_cue.shape[-1])
  return [channels + (cue if index >= with_cue else 0)
          for index in range(len(levels))]


def _guide_levels(guide: Guide | None, levels: Sequence[Level],
                  channels: int = 3):
  """The guide at every level, and every level's query box.

  Returns:
    (per level `_LevelGuide` or None, per level box or None), finest first.
  """
  if guide is None:
    return [None] * len(levels), [None] * len(levels)
  level_channels = _level_channels(guide, levels, channels)
  plan = tuple(
      (level.input_size, level.output_size, level.patch_size,
       levels[index + 1].input_size if index + 1 < len(levels) else None,
       level_channels[index] > channels)
      for index, level in enumerate(levels))
  arrays = _guide_arrays(guide._replace(source_cuts=(), cue_levels=None,
                                        key_cue=None), plan,
                         guide.source_cuts, channels)
  guides, boxes = [], []
  for index, (level, (free, fixed, key_valid, known)) in enumerate(
      zip(levels, arrays)):
    box = None
    if key_valid is not None and not isinstance(key_valid, jax.core.Tracer):
      if not bool(jnp.any(key_valid)):
        raise errors.InputError(
            f'the hole leaves no {level.patch_size} patch wholly outside it '
            f'at the {level.input_size} level; use a smaller mask or fewer '
            f'levels (max_levels)')
    if free is not None and not isinstance(free, jax.core.Tracer):
      free_np = np.asarray(free)
      if not free_np.any():
        raise errors.InputError(
            'the mask is empty: nothing may change; mark the region to fill '
            'or edit with nonzero (white) voxels')
      # Every query patch that holds a free voxel, and no other.
      patch = level.patch_size
      box = masks_lib.bounding_box(free_np, [p - 1 for p in patch], patch)
      if box[1] == level.output_size:
        box = None
    start = guide.start if index == len(levels) - 1 else None
    guides.append(_LevelGuide(start, _crop(fixed, box), key_valid,
                              None if box is None else known))
    boxes.append(box)
  return guides, boxes


@functools.lru_cache(maxsize=None)
def _compiled_paste(box, batched: bool):
  """`fn(box_output, known) -> output`: a level's box put into `known`."""
  def paste(crop, known):
    index = _box_index(box)
    if batched:
      known = jnp.broadcast_to(known, crop.shape[:1] + known.shape)
      index = (slice(None),) + index
    return known.at[index].set(crop)
  return jax.jit(paste)


def _level_specs(keys: jax.Array, levels: Sequence[Level], index: int,
                 static: Sequence[_LevelProgram], guides: Sequence,
                 channels: Sequence[int], batched: bool):
  """Argument shapes of level `index`'s start and iteration programs.

  `channels` holds every level's channel count (`_level_channels`).
  """
  level = levels[index]
  batch = keys.shape[:1] if batched else ()
  video = lambda size, i=index: jax.ShapeDtypeStruct(size + (channels[i],),
                                                     jnp.float32)
  def searched(i):
    if static[i].window is not None:
      return (static[i].window,) + levels[i].output_size[1:]
    return levels[i].output_size if static[i].box is None else static[i].box[1]
  # The field a level returns: a windowed level's is the whole level's.
  field = lambda i, whole=False: jax.ShapeDtypeStruct(
      batch + patches_lib.grid_shape(
          levels[i].output_size if whole and static[i].window else
          searched(i), levels[i].patch_size) + (3,), jnp.int32)
  spec = lambda x: jax.tree.map(
      lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), x)
  guide = guides[index] or _LevelGuide()
  key = jax.ShapeDtypeStruct(keys.shape, keys.dtype)
  if index == len(levels) - 1:
    start = (key, video(level.input_size), spec(guide.start),
             spec(guide.fixed), spec(guide.key_valid))
  else:
    coarser = levels[index + 1]
    start = (video(batch + coarser.output_size, index + 1),
             field(index + 1, whole=True),
             video(coarser.input_size), video(level.input_size),
             spec(guide.fixed), spec(guide.key_valid))
    if static[index].window is not None:
      # The first frame and first key frame.
      start += (jax.ShapeDtypeStruct((), jnp.int32),) * 2
  keys_size = _keys_size(level, static[index])
  key_valid = spec(guide.key_valid)
  if key_valid is not None:
    key_valid = jax.ShapeDtypeStruct(
        patches_lib.grid_shape(keys_size, level.patch_size), key_valid.dtype)
  iteration = (key, video(batch + searched(index)), video(keys_size),
               video(keys_size), field(index),
               jax.ShapeDtypeStruct((), jnp.int32),
               pnn.key_index_shape(keys_size, channels[index],
                                   static[index].options),
               key_valid, spec(guide.fixed))
  return start, iteration


def _keys_size(level: Level, program: _LevelProgram) -> pyramid.Size:
  """The keys and values a level's iterations search: its input level, or
  a window's frames of it (`_LevelProgram.key_window`)."""
  if program.key_window is None:
    return level.input_size
  return (program.key_window,) + tuple(level.input_size[1:])


# Each compilation holds 160-280 MiB of heap (memory.py): a few at once use
# the cores of a laptop without filling a big machine's memory.
_MAX_COMPILE_WORKERS = 4


def compile_workers(num_levels: int) -> int:
  """Threads that compile a generation's level programs at once."""
  return max(1, min(num_levels, os.cpu_count() or 1, _MAX_COMPILE_WORKERS))


def _compile_ahead(programs, static: Sequence[_LevelProgram],
                   keys: jax.Array, levels: Sequence[Level], guides: Sequence,
                   channels: Sequence[int], batched: bool):
  """Compiles every level's programs on a thread pool, coarsest first.

  XLA compiles outside the GIL, so the finer levels compile while the
  pyramid is built, the coarser levels run, and each other: on a first run
  (empty compilation cache) compilation is most of the time.

  Returns:
    Per level (finest first), (start, iteration, paste, later index)
    functions: the compiled ones wait for their program and call it.
  """
  def compile_level(index):
    start, iteration = _level_specs(keys, levels, index, static, guides,
                                    channels, batched)
    specs = (start, iteration, None,
             (jax.ShapeDtypeStruct(
                 _keys_size(levels[index], static[index]) +
                 (channels[index],), jnp.float32),))
    coarsest = index == len(levels) - 1
    return tuple(
        None if fn is None else program_cache.compile_program(
            fn, spec, repr((part, coarsest, batched, static[index])))
        for part, fn, spec in zip(('start', 'iteration', 'paste', 'index'),
                                  programs[index], specs)
        if part != 'paste')

  pool = concurrent.futures.ThreadPoolExecutor(
      max_workers=compile_workers(len(levels)))
  futures = {index: pool.submit(compile_level, index)
             for index in reversed(range(len(levels)))}
  pool.shutdown(wait=False)
  return [(functools.partial(_call_when_compiled, futures[index], 0),
           functools.partial(_call_when_compiled, futures[index], 1),
           programs[index][2],
           None if programs[index][3] is None else functools.partial(
               _call_when_compiled, futures[index], 2))
          for index in range(len(levels))]


def _later_index(program: _LevelProgram, coarsest: bool):
  """The program of a finer level's later key index, or None.

  The finer starts leave it out (`pnn.key_indexes(later=False)`); the
  coarsest start, whose keys are its values, makes both.
  """
  options = program.options
  if (coarsest or options.keys_rule != 'vgpnn' or
      not pnn.shares_key_indexes(options.search, options.num_iters)):
    return None
  return pnn.compiled_key_index(options)


def _call_when_compiled(future: concurrent.futures.Future, which: int, *args):
  return future.result()[which](*args)


def _concrete_on_default_device(x: jax.Array) -> bool:
  """Whether programs for `x` can be compiled ahead (not traced or sharded)."""
  return (not isinstance(x, jax.core.Tracer) and
          x.sharding.device_set == {jax.devices()[0]})


def _run(keys: jax.Array, video: jax.Array, config: Config, batched: bool,
         progress: ProgressFn | None, guide: Guide | None = None) -> jax.Array:
  levels = plan_levels(video.shape[:3], config, video.shape[3])
  colours = video.shape[3]
  cue_channels = 0 if guide is None or guide.key_cue is None else (
      jnp.shape(guide.key_cue)[-1])
  _check_memory(levels, colours + cue_channels,
                keys.shape[0] if batched else 1, config)
  if guide is not None:
    guide = _check_guide(guide, video, levels[0].output_size)
  guides, boxes = _guide_levels(guide, levels, colours)
  windows = level_windows(levels, config)
  _check_windowed_guides(windows, guides, boxes)
  channels = _level_channels(guide, levels, colours)
  if channels[-1] > colours:
    # The keys' cue rides through the pyramid as extra channels; the levels
    # without it take the colours only (`_run_level`).
    video = jnp.concatenate([video, guide.key_cue], axis=-1)
  coarsest = len(levels) - 1
  static = _programs(levels, config, boxes, windows)
  programs = [(_compiled_start(program, index == coarsest, batched),
               pnn.compiled_iteration(program.options, batched),
               None if program.box is None else _compiled_paste(program.box,
                                                                batched),
               _later_index(program, index == coarsest))
              for index, program in enumerate(static)]
  level_keys = [_fold_in(keys, index, batched)
                for index in range(len(levels))]
  # Programs compiled ahead are kept on disk (program_cache) keyed without
  # the mesh: a run that spreads its queries compiles in place.
  if (sharding.query_devices() == 1 and
      _concrete_on_default_device(keys) and
      _concrete_on_default_device(video) and
      all(_concrete_on_default_device(x)
          for x in jax.tree.leaves((guides, guide))
          if isinstance(x, jax.Array))):
    programs = _compile_ahead(programs, static, level_keys[0], levels, guides,
                              channels, batched)
  sizes = tuple(level.input_size for level in levels)
  # A list: the unguarded levels drop the coarser input once it is used.
  inputs = list(_pyramid_program(sizes)(video))

  def run_level(index, coarser, draw, drop_coarser_input=False):
    level_key = level_keys[index] if draw == 0 else _fold_in(
        level_keys[index], _DRAW_SALT + draw, batched)

    def run(level_programs, key, level_coarser, drop, key_frames=None):
      return _run_level(level_programs, static[index].options, key, inputs,
                        index, level_coarser, index == coarsest, batched,
                        guides[index], channels[index], drop,
                        key_frames=key_frames)

    if windows[index] is None:
      return run(programs[index], level_key, coarser, drop_coarser_input)
    return _run_windows(run, programs[index], windows[index],
                        static[index].options.patch_size[0], level_key,
                        coarser, batched, drop_coarser_input)

  def run_levels(indexes, draw):
    """Levels `indexes` (coarse to fine), the first one the coarsest.

    Returns [(output, field)] per level: all are kept (the guard picks a
    draw of all of them).
    """
    results = []
    for index in indexes:
      coarser = list(results[-1]) if results else [None, None]
      results.append(run_level(index, coarser, draw))
    return results

  guard = max(coarsest - config.guard_level, 0)
  guarded = range(coarsest, guard - 1, -1)
  # Draw 0 uses the output's own keys: with one draw, the output is the same.
  num_draws = guard_draws(config)
  candidates = [run_levels(guarded, draw) for draw in range(num_draws)]
  if len(candidates) > 1:
    scores = jnp.stack([
        _layout_scores(draw[-1][0][..., :colours], inputs[guard][..., :colours],
                       static[guard].options.patch_size, batched)
        for draw in candidates])
    best = jnp.argmin(scores, axis=0)  # [N] or scalar; ties: the first draw
    kept = [jax.tree.map(functools.partial(_pick, best, batched=batched),
                         *level_results)
            for level_results in zip(*candidates)]
  else:
    kept = candidates[0]
  for index, (output, _) in zip(guarded, kept):
    if progress is not None:
      progress(len(levels) - 1 - index, len(levels), levels[index],
               output[..., :colours])
  # From here on nothing of a coarser level outlives its use: the level's
  # start consumes the coarser output and field (`_run_level` empties
  # `carry`) and the coarser input, which no later level reads.
  carry = list(kept[-1])
  del candidates, kept, output
  for index in range(guard - 1, -1, -1):
    carry = list(run_level(index, carry, 0, drop_coarser_input=True))
    if progress is not None:
      progress(len(levels) - 1 - index, len(levels), levels[index],
               carry[0][..., :colours])
  output = carry.pop(0)
  return output if output.shape[-1] == colours else output[..., :colours]


def _run_level(programs, options: pnn.StepOptions, level_key: jax.Array,
               inputs: Sequence[jax.Array], index: int,
               coarser: list, coarsest: bool,
               batched: bool,
               guide: _LevelGuide | None = None,
               channels: int | None = None,
               drop_coarser_input: bool = False,
               key_frames: tuple[int, int] | None = None
               ) -> tuple[jax.Array, jax.Array]:
  """Level `index`: its start, then its J iterations.

  Args:
    programs: the level's (start, iteration, paste, later index)
      functions; paste is None when the level searches its whole output,
      later index (`pnn.consume_iterations`) may be None.
    options: the level's static options.
    level_key: the level's key(s) ([N] if batched).
    inputs: the input pyramid, finest first.
    index: the level.
    coarser: [output, field] of the coarser level ([None, None] at the
      coarsest); emptied here, so that where the caller holds no other
      reference they are freed once the level's start has read them.
    coarsest: whether this is the coarsest level.
    batched: whether the programs map over a batch of keys.
    guide: the level's guide arrays, or None.
    channels: the level's channels (`_level_channels`): the inputs' first
      this many; None: all.
    drop_coarser_input: whether to set `inputs[index + 1]` (a list then) to
      None once the start has read it: no later level reads it.
    key_frames: a time window's (first key frame, key frames): its
      iterations search only those frames of the input level (the start
      makes its keys from them); None: all of them.

  Returns:
    (output, field) of the level: the whole output, the field of its box
    (into the `key_frames` searched, if given).
  """
  start, iteration, paste, later_index = programs
  guide = guide or _LevelGuide()
  start_key, key = _split(level_key, batched)
  colours = lambda x: x if channels in (None, x.shape[-1]) else (
      x[..., :channels])
  values = colours(inputs[index])
  coarser_output, coarser_field = coarser
  coarser.clear()
  # The start's (queries, keys, field, indexes), held by this list alone:
  # `consume_iterations` frees each once it is used.
  if coarsest:
    started = list(start(start_key, values, guide.start, guide.fixed,
                         guide.key_valid))
  else:
    started = list(start(coarser_output, coarser_field,
                         colours(inputs[index + 1]), values, guide.fixed,
                         guide.key_valid))
  del coarser_output, coarser_field
  if drop_coarser_input:
    inputs[index + 1] = None
  key_valid = guide.key_valid
  if key_frames is not None:
    first, size = key_frames
    values = jax.lax.dynamic_slice_in_dim(values, first, size)
    if key_valid is not None:
      key_valid = jax.lax.dynamic_slice_in_dim(
          key_valid, first, size - options.patch_size[0] + 1)
  output, field = pnn.consume_iterations(
      iteration, functools.partial(_fold_in, key, batched=batched), started,
      values, options, key_valid, guide.fixed, later_index)
  if paste is not None:
    output = paste(output, guide.known)
  return output, field


# Folded into a level's key for the guard's extra draws; far above the level
# indexes folded into the output's key.
_DRAW_SALT = 2**20
# Folded into a windowed level's key for its windows after the first (whose
# key is the level's: one window makes the unwindowed output).
_WINDOW_SALT = 2**21


def _check_windowed_guides(windows: Sequence, guides: Sequence,
                           boxes: Sequence) -> None:
  """ValueError where a windowed level has a guide's region or cue.

  A window would need its crop of the guide's kept voxels, and an edit's box
  its own crop of the windows: not done yet.
  """
  for window, guide, box in zip(windows, guides, boxes):
    if window is not None and (box is not None or (
        guide is not None and guide.fixed is not None)):
      raise ValueError(
          'temporal windows (Config.window_frames) do not take a guide\'s '
          'region (Guide.free) or cue at a windowed level yet; set '
          'window_frames=None, or fewer window_levels to keep the cue\'s '
          'levels whole')


def _with_window(start, first_frame, key_first, *args):
  """`start(*args, first_frame, key_first)`: a windowed level's start for
  one window."""
  return start(*args, first_frame, key_first)


def _run_windows(run, programs, windows: Windows, patch_frames: int,
                 level_key: jax.Array, coarser: list, batched: bool,
                 drop_coarser_input: bool) -> tuple[jax.Array, jax.Array]:
  """A windowed level: each window's start and iterations, put together.

  Each window runs the level's own programs (one compile for all of them:
  the windows have one size, the first frame is an argument); its output is
  blended into the whole level's output and its field's corners into the
  whole level's field as `window_weights` says, so the finer level starts
  as from an unwindowed level.

  Args:
    run: `fn(programs, key, coarser, drop_coarser_input, key_frames=None)
      -> (output, field)` of one window (`_run_level` of this level;
      `key_frames` its (first key frame, key frames) with key windows).
    programs: the level's (start, iteration, paste, later index); the start
      takes the window's first frame and first key frame after the
      unwindowed start's arguments.
    windows: the level's windows.
    patch_frames: pt at this level.
    level_key: the level's key(s) ([N] if batched): the first window's;
      the others fold in their index.
    coarser: [output, field] of the coarser level, emptied here (as
      `_run_level`); every window's start reads them.
    batched: whether the programs map over a batch of keys.
    drop_coarser_input: as in `_run_level`, done by the last window.

  Returns:
    (output, field) of the whole level: [(N,) T, H, W, C] and
    [(N,) nT, nH, nW, 3].
  """
  start, iteration, _, later_index = programs
  ramps, owned = window_weights(windows, patch_frames)
  paste = _compiled_window_paste(batched)
  axis = 1 if batched else 0
  coarser_output, coarser_field = coarser
  coarser.clear()
  output = field = None
  for k, first in enumerate(windows.starts):
    last = k == len(windows.starts) - 1
    first = np.int32(first)
    key_first = np.int32(windows.key_starts[k] if windows.key_size else 0)
    key = level_key if k == 0 else _fold_in(level_key, _WINDOW_SALT + k,
                                            batched)
    window_coarser = [coarser_output, coarser_field]
    if last:  # freed once the last start has read them
      coarser_output = coarser_field = None
    window_output, window_field = run(
        (functools.partial(_with_window, start, first, key_first), iteration,
         None, later_index), key, window_coarser, drop_coarser_input and last,
        key_frames=None if windows.key_size is None else (int(key_first),
                                                          windows.key_size))
    if output is None:
      whole = lambda x, n: jnp.zeros(
          x.shape[:axis] + (n,) + x.shape[axis + 1:], x.dtype)
      output = whole(window_output, windows.frames)
      field = whole(window_field, windows.frames - patch_frames + 1)
    output, field = paste(output, field, window_output, window_field, first,
                          ramps[k], owned[k], key_first)
    del window_output, window_field
  return output, field


@functools.lru_cache(maxsize=None)
def _compiled_window_paste(batched: bool):
  """`fn(output, field, window_output, window_field, first_frame, ramp,
  owned, key_first) -> (output, field)`: one window put into its level's
  whole output ([(N,) T, H, W, C], blended by `ramp` [window]) and field
  ([(N,) nT, nH, nW, 3], its corners where `owned` [window - pt + 1], their
  matches moved from the window's keys, which begin at input frame
  `key_first`, to the whole input level's); `window_weights`. The whole
  output and field are donated: updated in place."""
  axis = 1 if batched else 0

  def along_time(x, ndim):
    shape = [1] * ndim
    shape[axis] = x.shape[0]
    return x.reshape(shape)

  def paste(output, field, window_output, window_field, first_frame, ramp,
            owned, key_first):
    so_far = jax.lax.dynamic_slice_in_dim(
        output, first_frame, window_output.shape[axis], axis)
    ramp = along_time(ramp, output.ndim)
    # Where the ramp is 1 the window's fold itself, exactly.
    blended = jnp.where(ramp >= 1, window_output,
                        ramp * window_output + (1 - ramp) * so_far)
    output = jax.lax.dynamic_update_slice_in_dim(output, blended,
                                                 first_frame, axis)
    window_field = window_field.at[..., 0].add(key_first)
    so_far = jax.lax.dynamic_slice_in_dim(
        field, first_frame, window_field.shape[axis], axis)
    kept = jnp.where(along_time(owned, field.ndim), window_field, so_far)
    field = jax.lax.dynamic_update_slice_in_dim(field, kept, first_frame,
                                                axis)
    return output, field

  return jax.jit(paste, donate_argnums=(0, 1))


@functools.partial(jax.jit, static_argnames=('patch_size', 'max_queries'))
def layout_coherence(output: jax.Array, values: jax.Array,
                     patch_size: tuple[int, int, int],
                     max_queries: int = 4096) -> jax.Array:
  """How much of a layout is made of the input's own pieces: the mean over
  the output's patches of the squared distance to the nearest patch of
  `values`, per value (lower is more coherent).

  Args:
    output: [T', H', W', C] a level's output.
    values: [T, H, W, C] the input at that level.
    patch_size: (pt, ph, pw).
    max_queries: an output with more patches is scored on this many or
      fewer, evenly strided in raster order (no key needed, and the cost
      stays bounded at large guard levels).

  Returns:
    float32 scalar.
  """
  queries = patches_lib.unfold(output, patch_size)
  queries = queries.reshape(-1, queries.shape[-1])
  queries = queries[::-(-queries.shape[0] // max_queries)]
  keys = patches_lib.unfold(values, patch_size)
  keys = keys.reshape(-1, keys.shape[-1])
  return jnp.mean(nn.min_distance_to(queries, keys)) / queries.shape[-1]


def _layout_scores(output, values, patch_size, batched):
  """`layout_coherence` of an output, or of each of a batch ([N])."""
  score = functools.partial(layout_coherence, patch_size=patch_size)
  return jax.vmap(score, in_axes=(0, None))(output, values) if batched else (
      score(output, values))


def _pick(best: jax.Array, *draws: jax.Array, batched: bool) -> jax.Array:
  """draws[best], per batch element when batched (best [N])."""
  stacked = jnp.stack(draws)
  if not batched:
    return stacked[best]
  return jnp.take_along_axis(
      stacked, best.reshape((1, -1) + (1,) * (stacked.ndim - 2)), axis=0)[0]


def _split(keys: jax.Array, batched: bool) -> tuple[jax.Array, jax.Array]:
  if batched:
    pairs = jax.vmap(jax.random.split)(keys)
    return pairs[:, 0], pairs[:, 1]
  pair = jax.random.split(keys)
  return pair[0], pair[1]


def _fold_in(keys: jax.Array, index: int, batched: bool) -> jax.Array:
  if batched:
    return jax.vmap(lambda k: jax.random.fold_in(k, index))(keys)
  return jax.random.fold_in(keys, index)


def generate(key: jax.Array,
             video: jax.typing.ArrayLike,
             config: Config | None = None,
             *,
             progress: ProgressFn | None = None,
             guide: Guide | None = None,
             **overrides) -> jax.Array:
  """Generates one new video from one input video.

  Args:
    key: PRNG key (`jax.random.key(seed)`, or `key_for_seed(seed)` for any
      seed >= 0); the same key, input and backend give the same output.
    video: [T, H, W, C] float video in [0, 1] (T = 1 for an image), finite;
      checked unless traced (`check_video_values`).
    config: a `Config`; fields can also be given as keyword overrides, e.g.
      `generate(key, video, noise_std=1.0, scale=(1, 1, 0.6))`. None: the
      video defaults, or for a one-frame input the image method's
      (`default_config`).
    progress: optional `fn(done, num_levels, level, output)` called after each
      level (with concrete arrays only: leave it None under jit or vmap).
    guide: optional `Guide`: a start, a region that may change, patches not
      to use (the applications of `vgpnn_jax.edit`).
    **overrides: `Config` fields.

  Returns:
    [T', H', W', C] float32 video, (T', H', W') = input size times `scale`.

  Raises:
    InputError: when the video is not a finite float video in [0, 1], is too
      small for the patch or the scale, the guide does not fit it, or the
      request needs more memory than is free (`memory.check_fits`).
    TypeError: `key` is not a PRNG key (e.g. an int seed).
    ValueError: `key` is a batch of keys (use `generate_batch`).
  """
  key = _check_key(key, batched=False)
  video = _check_video(video)
  config = _resolve_config(config, video, overrides)
  return _run(key, video, config, False, progress, guide)


def generate_batch(keys: jax.Array,
                   video: jax.typing.ArrayLike,
                   config: Config | None = None,
                   *,
                   progress: ProgressFn | None = None,
                   guide: Guide | None = None,
                   **overrides) -> jax.Array:
  """Generates one video per key, level by level with `jax.vmap`.

  Equal to stacking `generate(k, video, ...)` for every key `k`, with one
  compiled program per level for the whole batch.

  Args:
    keys: [N] PRNG keys (e.g. `jax.random.split(key, N)`).
    video: [T, H, W, C] float video in [0, 1].
    config: a `Config`; or keyword overrides as in `generate`.
    progress: as in `generate`; `output` is the batch [N, T', H', W', C].
    guide: as in `generate`, shared by the batch.
    **overrides: `Config` fields.

  Returns:
    [N, T', H', W', C] float32 videos.

  Raises:
    InputError: as `generate`.
    TypeError: `keys` are not PRNG keys.
    ValueError: `keys` is one key, not a batch [N] of them.
  """
  keys = _check_key(keys, batched=True)
  video = _check_video(video)
  config = _resolve_config(config, video, overrides)
  if keys.shape[:1] == (1,):
    # One variation runs the unbatched programs, with no loops over the
    # batch to trace and compile: 13x144x256 level programs took 4 s less
    # Python tracing and 2 s less compilation (of ~45 s), same output.
    one = None if progress is None else (
        lambda done, num, level, output: progress(done, num, level,
                                                  output[None]))
    return _run(keys[0], video, config, False, one, guide)[None]
  # Keys split by `sharding.shard_keys`: each device runs its share.
  with sharding.batch_mesh_of(keys):
    return _run(keys, video, config, True, progress, guide)


def guard_draws(config: Config) -> int:
  """The layouts the structure guard draws per output: `layout_draws`, or 1
  without noise, where every draw would make the same layout (the one rule
  the run, the memory estimate and the plan printed follow)."""
  return config.layout_draws if config.noise_std > 0 else 1


def level_work(levels: Sequence[Level]) -> list[int]:
  """The work of each level in the order they run (coarsest first): output
  voxels x iterations, what the fine levels, which dominate, cost about.

  Args:
    levels: the plan (`plan_levels`), finest first.

  Returns:
    [len(levels)] work units.
  """
  return [math.prod(l.output_size) * l.num_iters for l in levels[::-1]]


def seconds_left(level_seconds: Sequence[float],
                 work: Sequence[float]) -> float:
  """The time the remaining levels take, fitted on the levels run so far.

  Each level is modelled as `a + b * work`: a fixed cost (compiling its
  programs, which a first run spends on every level whatever its size, and
  the per-call overhead) plus a cost per unit of work. `a, b >= 0` are
  fitted by least squares to the seconds of the levels done. Extrapolating
  seconds per unit of work alone (`b` only) charged the finest levels with
  the coarse levels' compilation: 11536 s left after 6 of 15 levels of the
  main job's first run (2 busy cores), which then ended 430 s later; this
  fit said 271 s there, and 0.43x to 1.2x of the truth after the other
  levels but one (4.8x after level 7, which took 52 s).

  Args:
    level_seconds: [k] seconds each level run so far took (coarsest first).
    work: [n] work of every level (`level_work`), n > k.

  Returns:
    The estimated seconds of levels k..n-1.
  """
  done = len(level_seconds)
  d = np.asarray(level_seconds, np.float64)
  w = np.asarray(work[:done], np.float64)
  rest = np.asarray(work[done:], np.float64)
  if done == 0 or rest.size == 0:
    return 0.0
  # Least squares with a, b >= 0: the unconstrained solution, else the best
  # with one of them 0.
  candidates = [(float(d.mean()), 0.0)]
  if np.dot(w, w) > 0:
    candidates.append((0.0, float(np.dot(w, d) / np.dot(w, w))))
  if done > 1 and np.var(w) > 0:
    b = float(np.cov(w, d, bias=True)[0, 1] / np.var(w))
    a = float(d.mean() - b * w.mean())
    if a >= 0 and b >= 0:
      candidates.append((a, b))
  a, b = min(candidates, key=lambda ab: float(np.sum((ab[0] + ab[1] * w - d)
                                                     ** 2)))
  return a * rest.size + b * float(rest.sum())


class LevelClock:
  """When each level of a generation ended, and the time left from that.

  Shared by the progress printers (`Timer`, `progress.Bar`): call
  `level_done` from the progress callback.
  """

  def __init__(self, levels: Sequence[Level] | None = None):
    """`levels`: the plan (`plan_levels`, finest first), for the time left;
    the clock starts now."""
    self.work = None if levels is None else level_work(levels)
    self._start = self._last = time.perf_counter()
    self._seconds = []  # what each level of this generation took

  @property
  def elapsed(self) -> float:
    """Seconds from the start to the end of the last level."""
    return self._last - self._start

  def level_done(self, done: int, num_levels: int,
                 output: jax.Array) -> float | None:
    """Records level `done` (0 = coarsest) once `output` is ready.

    Returns:
      `seconds_left` of the levels after it, or None where it is not known:
      without the plan or for another plan, after the first level (one
      level fits no fixed cost apart from a cost per voxel) and after the
      last.
    """
    jax.block_until_ready(output)
    now = time.perf_counter()
    if done == 0:
      self._seconds = []  # a new generation
    self._seconds.append(now - self._last)
    self._last = now
    if (self.work is not None and len(self.work) == num_levels and
        0 < done < num_levels - 1 and len(self._seconds) == done + 1):
      return seconds_left(self._seconds, self.work)
    return None


class Timer:
  """Progress printer: `level i of n, size, time so far` after each level,
  and with the plan, the time left.

  The time left is `seconds_left` of the levels run so far; shown from the
  second level on, once a level ran with compiled programs.
  """

  def __init__(self, print_fn=print, levels: Sequence[Level] | None = None):
    """`levels`: the plan (`plan_levels`, finest first), for the time left."""
    self._print = print_fn
    self._clock = LevelClock(levels)

  def __call__(self, done: int, num_levels: int, level: Level,
               output: jax.Array) -> None:
    left = self._clock.level_done(done, num_levels, output)
    t, h, w = level.output_size
    search = level.search + ('' if level.alpha is None else ' + alpha')
    left = '' if left is None else f', about {left:.0f} s left'
    self._print(f'  level {done + 1:2d} of {num_levels}: {t}x{h}x{w} '
                f'({search}, {level.num_iters} iter) '
                f'{self._clock.elapsed:7.1f} s{left}')
