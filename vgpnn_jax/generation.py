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
import os
import time
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp

from vgpnn_jax import errors
from vgpnn_jax import patches as patches_lib
from vgpnn_jax import patchmatch
from vgpnn_jax import pnn
from vgpnn_jax import program_cache
from vgpnn_jax import pyramid
from vgpnn_jax import resampling as resize_lib

SEARCH_MODES = ('auto', 'exact', 'patchmatch')

# `search='auto'` uses the exact search on a level when one exact search costs
# at most this many flops (about a second on a 2-core CPU), PatchMatch above.
DEFAULT_AUTO_EXACT_FLOPS = 5e10


class Config(NamedTuple):
  """Every parameter of the method, with the reference code's defaults.

  Two defaults differ, each chosen by measurement against the authors'
  published outputs: the noise (`noise_std`) and the completeness term
  (`alpha`), which the reference code leaves off for plain generation.

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
      level, in the units of the video ([0, 1]). The reference code's 5 on
      [-1, 1] videos would be 2.5 here; 5.0 (its 10) is the default because,
      measured on the five singangif clips against the authors' published
      outputs (experiments/results/noise_sweep.md), 2.5 gave less diversity
      than theirs (0.45 against 0.54) and 5.0 more, with coherence still
      better than theirs. Use 0 for retargeting without variation.
    num_iters: J, iterations per level.
    coarsest_iters: J at the coarsest level.
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
  """
  patch_size: tuple[int, int, int] | None = None
  time_factor: float = 0.85
  space_factor: float = 0.85
  min_frames: int = 3
  min_side: int = 15
  max_levels: int | None = None
  scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
  noise_std: float = 5.0
  num_iters: int = 5
  coarsest_iters: int = 1
  reduce: str = 'median'
  keys_rule: str = 'vgpnn'
  alpha: float | None = 1.0
  alpha_levels: int | None = 5
  search: str = 'auto'
  auto_exact_flops: float = DEFAULT_AUTO_EXACT_FLOPS
  large_output_voxels: tuple[int, int] | None = (3_000_000, 7_500_000)
  chunk_size: int = 1024


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


def make_config(config: Config | None = None, **overrides) -> Config:
  """A `Config` from an optional base and keyword overrides (checked)."""
  config = Config() if config is None else config
  unknown = set(overrides) - set(Config._fields)
  if unknown:
    raise TypeError(f'unknown option(s) {sorted(unknown)}; known: '
                    f'{list(Config._fields)}')
  config = config._replace(**overrides)
  if config.search not in SEARCH_MODES:
    raise ValueError(f'search must be one of {SEARCH_MODES}, got '
                     f'{config.search!r}')
  if config.noise_std < 0:
    raise ValueError(f'noise_std must be >= 0, got {config.noise_std}')
  if config.num_iters < 1 or config.coarsest_iters < 1:
    raise ValueError('num_iters and coarsest_iters must be >= 1')
  if not config.auto_exact_flops >= 0:
    raise ValueError(f'auto_exact_flops must be >= 0, got '
                     f'{config.auto_exact_flops}')
  if config.alpha is not None and not config.alpha > 0:
    raise ValueError(f'alpha must be positive or None, got {config.alpha}')
  if config.alpha_levels is not None and config.alpha_levels < 0:
    raise ValueError(f'alpha_levels must be >= 0 or None, got '
                     f'{config.alpha_levels}')
  pnn.check_options(pnn.StepOptions(
      reduce=config.reduce, keys_rule=config.keys_rule,
      search='exact' if config.search == 'auto' else config.search,
      # Checked where it can act: PatchMatch levels run without it.
      alpha=None if config.search == 'patchmatch' else config.alpha))
  return config._replace(scale=tuple(float(s) for s in config.scale))


def plan_levels(size: Sequence[int], config: Config,
                channels: int = 3) -> list[Level]:
  """The level plan for an input of `size` (T, H, W), finest level first.

  Raises:
    InputError: when the coarsest input or output level cannot hold a patch.
  """
  size = tuple(int(s) for s in size)
  patch = config.patch_size
  if patch is None:
    patch = (3, 7, 7) if size[0] > 1 else (1, 7, 7)
  patch = tuple(int(p) for p in patch)
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


def _check_video(video: jax.Array) -> jax.Array:
  video = jnp.asarray(video)
  if video.ndim != 4:
    raise errors.InputError(
        f'expected a video of shape [frames, height, width, channels], got '
        f'shape {video.shape}; add a frame axis for a single image')
  if not jnp.issubdtype(video.dtype, jnp.floating):
    raise errors.InputError(
        f'expected a float video in [0, 1], got dtype {video.dtype}; divide '
        f'uint8 frames by 255')
  return video.astype(jnp.float32)


ProgressFn = Callable[[int, int, Level, jax.Array], None]


class _LevelProgram(NamedTuple):
  """Static description of one level's compiled program (a jit cache key)."""
  options: pnn.StepOptions
  output_size: pyramid.Size
  coarse_key_grid: tuple[int, int, int] | None  # grid of the previous field
  noise_std: float  # used at the coarsest level only


def _step_options(level: Level, config: Config) -> pnn.StepOptions:
  return pnn.StepOptions(
      patch_size=level.patch_size, num_iters=level.num_iters,
      reduce=config.reduce, keys_rule=config.keys_rule, search=level.search,
      alpha=level.alpha,
      chunk_size=config.chunk_size)


def _coarsest_start(key, values, program: _LevelProgram):
  """[Tk, Hk, Wk, C] coarsest input -> (queries, keys, field, indexes).

  The initial guess: the coarsest input resized to the output size, plus
  Gaussian noise. `indexes` as `pnn.key_indexes`.
  """
  noise_key, field_key = jax.random.split(key)
  start = resize_lib.resize(values, program.output_size)
  queries = start + program.noise_std * jax.random.normal(noise_key,
                                                          start.shape)
  indexes = pnn.key_indexes(values, values, program.options)
  field = pnn.start_field(field_key, queries, values, program.options,
                          None if indexes is None else indexes[0])
  return queries, values, field, indexes


def _finer_start(previous, previous_field, coarse_values, values,
                 program: _LevelProgram):
  """The start of a finer level: the coarser output and field, upscaled.

  Args:
    previous: [T', H', W', C] the coarser level's output.
    previous_field: [nT', nH', nW', 3] the coarser level's field.
    coarse_values: [T'', H'', W'', C] the coarser input level.
    values: [Tk, Hk, Wk, C] this input level.
    program: static sizes and options.

  Returns:
    queries [*output_size, C], keys [Tk, Hk, Wk, C] (the coarser input
    upscaled: as blurred as the upscaled queries), field [*grid, 3], and
    PatchMatch's key indexes (`pnn.key_indexes`: computed once here rather
    than in every iteration) or None.
  """
  options = program.options
  queries = resize_lib.resize(previous, program.output_size)
  keys = resize_lib.resize(coarse_values, values.shape[:3])
  grid = patches_lib.grid_shape(program.output_size, options.patch_size)
  if options.search == 'patchmatch':
    # Start from the coarser level's matches rather than at random.
    field = patchmatch.upscale_field(
        previous_field,
        (grid, patches_lib.grid_shape(values.shape[:3], options.patch_size)),
        source_key_grid=program.coarse_key_grid)
  else:
    field = jnp.zeros(grid + (3,), jnp.int32)  # ignored by the exact search
  return queries, keys, field, pnn.key_indexes(keys, values, options)


@functools.lru_cache(maxsize=None)
def _compiled_start(program: _LevelProgram, coarsest: bool, batched: bool):
  """The jitted start of one level (vmapped over the batch axis)."""
  if coarsest:
    fn = functools.partial(_coarsest_start, program=program)
    in_axes, out_axes = (0, None), (0, None, 0, None)
  else:
    fn = functools.partial(_finer_start, program=program)
    in_axes, out_axes = (0, 0, None, None), (0, None, 0, None)
  if batched:
    fn = jax.vmap(fn, in_axes=in_axes, out_axes=out_axes)
  return jax.jit(fn)


@functools.lru_cache(maxsize=None)
def _pyramid_program(sizes: tuple[pyramid.Size, ...]):
  """The jitted pyramid for these level sizes: one program, not 15 resizes."""
  return jax.jit(functools.partial(pyramid.build_pyramid, sizes=sizes))


def _programs(levels: Sequence[Level], config: Config) -> list[_LevelProgram]:
  """The static program of every level, finest first."""
  programs = []
  for index, level in enumerate(levels):
    coarse_key_grid = None
    if index + 1 < len(levels):
      coarser = levels[index + 1]
      coarse_key_grid = patches_lib.grid_shape(coarser.input_size,
                                               coarser.patch_size)
    programs.append(_LevelProgram(_step_options(level, config),
                                  level.output_size, coarse_key_grid,
                                  float(config.noise_std)))
  return programs


def _level_specs(keys: jax.Array, levels: Sequence[Level], index: int,
                 options: pnn.StepOptions, channels: int, batched: bool):
  """Argument shapes of level `index`'s start and iteration programs."""
  level = levels[index]
  batch = keys.shape[:1] if batched else ()
  video = lambda size: jax.ShapeDtypeStruct(size + (channels,), jnp.float32)
  field = lambda level: jax.ShapeDtypeStruct(
      batch + patches_lib.grid_shape(level.output_size, level.patch_size) +
      (3,), jnp.int32)
  key = jax.ShapeDtypeStruct(keys.shape, keys.dtype)
  if index == len(levels) - 1:
    start = (key, video(level.input_size))
  else:
    coarser = levels[index + 1]
    start = (video(batch + coarser.output_size), field(coarser),
             video(coarser.input_size), video(level.input_size))
  iteration = (key, video(batch + level.output_size), video(level.input_size),
               video(level.input_size), field(level),
               jax.ShapeDtypeStruct((), jnp.int32),
               pnn.key_index_shape(level.input_size, channels, options))
  return start, iteration


# Each compilation holds 160-280 MiB of heap (memory.py): a few at once use
# the cores of a laptop without filling a big machine's memory.
_MAX_COMPILE_WORKERS = 4


def compile_workers(num_levels: int) -> int:
  """Threads that compile a generation's level programs at once."""
  return max(1, min(num_levels, os.cpu_count() or 1, _MAX_COMPILE_WORKERS))


def _compile_ahead(programs, static: Sequence[_LevelProgram],
                   keys: jax.Array, levels: Sequence[Level], channels: int,
                   batched: bool):
  """Compiles every level's programs on a thread pool, coarsest first.

  XLA compiles outside the GIL, so the finer levels compile while the
  pyramid is built, the coarser levels run, and each other: on a first run
  (empty compilation cache) compilation is most of the time.

  Returns:
    Per level (finest first), (start, iteration) functions that wait for
    their compiled program and call it.
  """
  def compile_level(index):
    specs = _level_specs(keys, levels, index, static[index].options,
                         channels, batched)
    coarsest = index == len(levels) - 1
    return tuple(
        program_cache.compile_program(
            fn, spec, repr((part, coarsest, batched, static[index])))
        for part, fn, spec in zip(('start', 'iteration'), programs[index],
                                  specs))

  pool = concurrent.futures.ThreadPoolExecutor(
      max_workers=compile_workers(len(levels)))
  futures = {index: pool.submit(compile_level, index)
             for index in reversed(range(len(levels)))}
  pool.shutdown(wait=False)
  return [(functools.partial(_call_when_compiled, futures[index], 0),
           functools.partial(_call_when_compiled, futures[index], 1))
          for index in range(len(levels))]


def _call_when_compiled(future: concurrent.futures.Future, which: int, *args):
  return future.result()[which](*args)


def _concrete_on_default_device(x: jax.Array) -> bool:
  """Whether programs for `x` can be compiled ahead (not traced or sharded)."""
  return (not isinstance(x, jax.core.Tracer) and
          x.sharding.device_set == {jax.devices()[0]})


def _run(keys: jax.Array, video: jax.Array, config: Config, batched: bool,
         progress: ProgressFn | None) -> jax.Array:
  levels = plan_levels(video.shape[:3], config, video.shape[3])
  coarsest = len(levels) - 1
  static = _programs(levels, config)
  programs = [(_compiled_start(program, index == coarsest, batched),
               pnn.compiled_iteration(program.options, batched))
              for index, program in enumerate(static)]
  level_keys = [_fold_in(keys, index, batched)
                for index in range(len(levels))]
  if (_concrete_on_default_device(keys) and
      _concrete_on_default_device(video)):
    programs = _compile_ahead(programs, static, level_keys[0], levels,
                              video.shape[3], batched)
  sizes = tuple(level.input_size for level in levels)
  inputs = _pyramid_program(sizes)(video)
  output = field = None
  for index in reversed(range(len(levels))):
    output, field = _run_level(programs[index], static[index].options,
                               level_keys[index], inputs, index, output, field,
                               index == coarsest, batched)
    if progress is not None:
      progress(len(levels) - 1 - index, len(levels), levels[index], output)
  return output


def _run_level(programs, options: pnn.StepOptions, level_key: jax.Array,
               inputs: Sequence[jax.Array], index: int,
               coarser_output: jax.Array | None,
               coarser_field: jax.Array | None, coarsest: bool,
               batched: bool) -> tuple[jax.Array, jax.Array]:
  """Level `index`: its start, then its J iterations.

  Args:
    programs: the level's (start, iteration) functions.
    options: the level's static options.
    level_key: the level's key(s) ([N] if batched).
    inputs: the input pyramid, finest first.
    index: the level.
    coarser_output: the coarser level's output (None at the coarsest).
    coarser_field: the coarser level's field (None at the coarsest).
    coarsest: whether this is the coarsest level.
    batched: whether the programs map over a batch of keys.

  Returns:
    (output, field) of the level.
  """
  start, iteration = programs
  start_key, key = _split(level_key, batched)
  if coarsest:
    queries, keys_video, field, indexes = start(start_key, inputs[index])
  else:
    queries, keys_video, field, indexes = start(
        coarser_output, coarser_field, inputs[index + 1], inputs[index])
  return pnn.run_iterations(
      iteration, functools.partial(_fold_in, key, batched=batched), queries,
      keys_video, inputs[index], field, options, indexes)


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
             **overrides) -> jax.Array:
  """Generates one new video from one input video.

  Args:
    key: PRNG key (`jax.random.key(seed)`); the same key, input and backend
      give the same output.
    video: [T, H, W, C] float video in [0, 1] (T = 1 for an image).
    config: a `Config`; fields can also be given as keyword overrides, e.g.
      `generate(key, video, noise_std=1.0, scale=(1, 1, 0.6))`.
    progress: optional `fn(done, num_levels, level, output)` called after each
      level (with concrete arrays only: leave it None under jit or vmap).
    **overrides: `Config` fields.

  Returns:
    [T', H', W', C] float32 video, (T', H', W') = input size times `scale`.

  Raises:
    InputError: when the video is too small for the patch or the scale.
  """
  config = make_config(config, **overrides)
  return _run(key, _check_video(video), config, False, progress)


def generate_batch(keys: jax.Array,
                   video: jax.typing.ArrayLike,
                   config: Config | None = None,
                   *,
                   progress: ProgressFn | None = None,
                   **overrides) -> jax.Array:
  """Generates one video per key, level by level with `jax.vmap`.

  Equal to stacking `generate(k, video, ...)` for every key `k`, with one
  compiled program per level for the whole batch.

  Args:
    keys: [N] PRNG keys (e.g. `jax.random.split(key, N)`).
    video: [T, H, W, C] float video in [0, 1].
    config: a `Config`; or keyword overrides as in `generate`.
    progress: as in `generate`; `output` is the batch [N, T', H', W', C].
    **overrides: `Config` fields.

  Returns:
    [N, T', H', W', C] float32 videos.
  """
  config = make_config(config, **overrides)
  video = _check_video(video)
  if keys.shape[:1] == (1,):
    # One variation runs the unbatched programs, with no loops over the
    # batch to trace and compile: 13x144x256 level programs took 4 s less
    # Python tracing and 2 s less compilation (of ~45 s), same output.
    one = None if progress is None else (
        lambda done, num, level, output: progress(done, num, level,
                                                  output[None]))
    return _run(keys[0], video, config, False, one)[None]
  return _run(keys, video, config, True, progress)


class Timer:
  """Progress printer: `level i of n, size, time so far` after each level."""

  def __init__(self, print_fn=print):
    self._start = time.perf_counter()
    self._print = print_fn

  def __call__(self, done: int, num_levels: int, level: Level,
               output: jax.Array) -> None:
    jax.block_until_ready(output)
    t, h, w = level.output_size
    search = level.search + ('' if level.alpha is None else ' + alpha')
    self._print(f'  level {done + 1:2d} of {num_levels}: {t}x{h}x{w} '
                f'({search}, {level.num_iters} iter) '
                f'{time.perf_counter() - self._start:7.1f} s')
