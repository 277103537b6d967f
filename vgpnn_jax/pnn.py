"""One pyramid level of generative patch nearest neighbours: (Q, K, V) -> video.

Every patch of the queries Q is replaced by the patch of the values V at the
position of its nearest patch in the keys K, and the chosen patches are folded
back into a video; this repeats `num_iters` times with Q = the last output.

The keys rule says what K is after the first iteration:
* 'vgpnn' (the video method): K becomes V, as Q is now as sharp as V;
* 'gpnn' (the image method): K stays the given (blurred) keys.

Applications constrain the step with two optional arrays, the same for every
search: `key_valid` (which key patches may be chosen, e.g. those wholly
outside the hole of an inpainting) and `fixed` (voxels of the output that
keep a given value, put back after every fold so that they are exact in the
returned video).

One iteration (`search_and_fold`) is compiled once per combination of shapes
and static options (`jax.jit` caches by shape) and called J times, so a
pyramid of L levels compiles L iteration programs and a second run of the same
sizes compiles nothing. `level_step` is a plain function of jitted parts: it
also works inside `jax.jit` and `jax.vmap`.
"""

import functools
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from vgpnn_jax import nn
from vgpnn_jax import patches as patches_lib
from vgpnn_jax import patchmatch
from vgpnn_jax import sharding

KEYS_RULES = ('vgpnn', 'gpnn')
SEARCHES = ('exact', 'patchmatch')


class StepOptions(NamedTuple):
  """Static options of one level step (hashable: part of the jit cache key).

  Attributes:
    patch_size: (pt, ph, pw) patch size.
    num_iters: J, the number of (search, fold) iterations.
    reduce: 'median' or 'mean', how overlapping patches are folded.
    keys_rule: 'vgpnn' (K becomes V after the first iteration) or 'gpnn'.
    search: 'exact' or 'patchmatch'.
    alpha: completeness term (exact search only); None turns it off.
    chunk_size: queries per chunk of the exact search.
    refine_steps: PatchMatch in a level's later iterations runs only the last
      this many jump-flood steps of a pass (the first iteration runs them
      all). Measured at the finest level of a 13x144x256 video: after the
      first iteration a full pass (8, 4, 2, 1) and the last step alone left
      the same mean patch distance (0.0994 from 0.1019) in 0.78 s against
      0.43 s; at a level's first iteration the full pass matters (0.077
      against 0.104 for the last step alone).
    known_weight: with a `fixed` region (an inpainting's known voxels), each
      query patch's votes in the fold weigh `1 + known_weight * f`, f the
      fraction of its voxels that are known: at the hole's border the
      patches anchored in the known region outvote the fill's. 0 turns it
      off (every patch counts once).
    match_weight: each query patch's votes also weigh `exp(-d / (
      match_weight * median d))`, d its distance to its nearest key (Wexler
      et al.'s similarity weight); 0 turns it off.
  """
  patch_size: tuple[int, int, int] = (3, 7, 7)
  num_iters: int = 5
  reduce: str = 'median'
  keys_rule: str = 'vgpnn'
  search: str = 'exact'
  alpha: float | None = None
  chunk_size: int = 1024
  refine_steps: int = 1
  known_weight: float = 0.0
  match_weight: float = 0.0


def check_options(options: StepOptions) -> None:
  """Raises ValueError on an invalid combination of static options."""
  if options.num_iters < 1:
    raise ValueError(f'num_iters must be >= 1, got {options.num_iters}')
  if options.reduce not in patches_lib.REDUCTIONS:
    raise ValueError(f'reduce must be one of {patches_lib.REDUCTIONS}, got '
                     f'{options.reduce!r}')
  if options.keys_rule not in KEYS_RULES:
    raise ValueError(f'keys_rule must be one of {KEYS_RULES}, got '
                     f'{options.keys_rule!r}')
  if options.search not in SEARCHES:
    raise ValueError(f'search must be one of {SEARCHES}, got '
                     f'{options.search!r}')
  if options.alpha is not None and options.search != 'exact':
    raise ValueError('the completeness term (alpha) needs the exact search')
  num_steps = len(patchmatch.DEFAULT_STEPS)
  if not 1 <= options.refine_steps <= num_steps:
    raise ValueError(f'refine_steps must be in [1, {num_steps}], got '
                     f'{options.refine_steps}')


def _exact_field(queries: jax.Array, keys: jax.Array, options: StepOptions,
                 key_valid: jax.Array | None = None) -> jax.Array:
  """[Tq, Hq, Wq, C], [Tk, Hk, Wk, C] -> [nTq, nHq, nWq, 3] nearest corners."""
  query_patches = patches_lib.unfold(queries, options.patch_size)
  key_patches = patches_lib.unfold(keys, options.patch_size)
  key_grid = key_patches.shape[:3]
  index, distance = nn.exact_nearest(
      query_patches.reshape(-1, query_patches.shape[-1]),
      key_patches.reshape(-1, key_patches.shape[-1]),
      alpha=options.alpha,
      key_valid=None if key_valid is None else key_valid.reshape(-1),
      chunk_size=options.chunk_size)
  corners = jnp.stack(patches_lib.unravel_index(index, key_grid), axis=-1)
  grid = query_patches.shape[:3]
  return (corners.reshape(grid + (3,)).astype(jnp.int32),
          distance.reshape(grid))


def _patchmatch_field(key: jax.Array, queries: jax.Array, keys: jax.Array,
                      field: jax.Array | None, options: StepOptions,
                      key_index: patchmatch.KeyIndex | None,
                      key_valid: jax.Array | None = None,
                      num_passes: int | None = 1,
                      first_step: int | jax.Array = 0) -> jax.Array:
  field, distance = patchmatch.patchmatch(
      key, queries, keys, patch_size=options.patch_size, init_field=field,
      num_passes=num_passes, first_step=first_step, key_index=key_index,
      key_valid=key_valid)
  return field, distance


def shares_key_indexes(search: str, num_iters: int) -> bool:
  """Whether a level of this search and J computes `key_indexes` once."""
  return search == 'patchmatch' and num_iters >= 3


def key_indexes(
    keys: jax.Array, values: jax.Array, options: StepOptions, *,
    later: bool = True
) -> tuple[patchmatch.KeyIndex, patchmatch.KeyIndex | None] | None:
  """PatchMatch's key index of a level's first iteration and of the others.

  Computed once per keys video, not once per iteration: the later iterations
  search the same keys (the values, or with 'gpnn' the first keys again).
  None where it would not save anything: exact search, or fewer than 3
  iterations (then each index serves one search, and holding it costs
  memory).

  Args:
    keys: [Tk, Hk, Wk, C] K of the first iteration.
    values: [Tk, Hk, Wk, C] V.
    options: static options.
    later: False leaves the later iterations' index out (None), for
      `consume_iterations` to make after the first iteration: the two
      indexes are then never held together (16 floats per key patch each,
      151 MiB at 13x360x640).

  Returns:
    (index of `keys`, index of the later iterations' keys or None), or None.
  """
  if not shares_key_indexes(options.search, options.num_iters):
    return None
  first = compiled_key_index(options)(keys)
  if not later:
    return first, None
  return first, first if options.keys_rule == 'gpnn' else (
      compiled_key_index(options)(values))


@functools.lru_cache(maxsize=None)
def compiled_key_index(options: StepOptions):
  """The jitted `fn(keys [Tk, Hk, Wk, C]) -> patchmatch.KeyIndex`."""
  return jax.jit(functools.partial(patchmatch.key_index,
                                   patch_size=options.patch_size))


def key_index_shape(keys_size: Sequence[int], channels: int,
                    options: StepOptions) -> patchmatch.KeyIndex | None:
  """The shapes (ShapeDtypeStructs) of each of `key_indexes`, or None."""
  if not shares_key_indexes(options.search, options.num_iters):
    return None
  return patchmatch.key_index_shape(keys_size, channels, options.patch_size)


def start_field(key: jax.Array, queries: jax.Array, keys: jax.Array,
                options: StepOptions,
                key_index: patchmatch.KeyIndex | None = None,
                key_valid: jax.Array | None = None) -> jax.Array:
  """The field a level starts from when no coarser field is given.

  Args:
    key: PRNG key.
    queries: [Tq, Hq, Wq, C] the level's initial output.
    keys: [Tk, Hk, Wk, C] the keys of its first iteration.
    options: static options.
    key_index: optional PatchMatch key index of `keys` (`key_indexes`).
    key_valid: optional [nTk, nHk, nWk] bool, the key patches that may be
      chosen.

  Returns:
    [nTq, nHq, nWq, 3] int32: PatchMatch from a random start (which needs
    more passes than the later iterations) for the PatchMatch search; zeros,
    ignored, for the exact search.
  """
  if options.search == 'exact':
    grid = patches_lib.grid_shape(queries.shape[:3], options.patch_size)
    return jnp.zeros(grid + (3,), jnp.int32)
  return _patchmatch_field(key, queries, keys, None, options, key_index,
                           key_valid, num_passes=None)[0]


def search_and_fold(
    key: jax.Array, queries: jax.Array, keys: jax.Array, values: jax.Array,
    field: jax.Array, iteration: jax.Array,
    key_index: patchmatch.KeyIndex | None,
    key_valid: jax.Array | None,
    fixed: jax.Array | None,
    options: StepOptions) -> tuple[jax.Array, jax.Array]:
  """One iteration: the nearest key patch of every query patch, values folded.

  Args:
    key: PRNG key (PatchMatch's candidates).
    queries: [Tq, Hq, Wq, C].
    keys: [Tk, Hk, Wk, C].
    values: [Tk, Hk, Wk, C].
    field: [nTq, nHq, nWq, 3] int32 PatchMatch start (ignored by 'exact').
    iteration: int32 scalar, the index of this iteration within the level
      (traced: the J calls share one program); PatchMatch runs a full pass
      at 0, the last `options.refine_steps` steps after.
    key_index: PatchMatch's key index of `keys` (`key_indexes`), or None to
      compute it here.
    key_valid: optional [nTk, nHk, nWk] bool: only these key patches are
      chosen (both searches).
    fixed: optional [Tq, Hq, Wq, C]: NaN where the output is free, elsewhere
      the value the output keeps (put back after the fold).
    options: static options.

  Returns:
    ([Tq, Hq, Wq, C] output, [nTq, nHq, nWq, 3] field).
  """
  if options.search == 'exact':
    field, distance = _exact_field(queries, keys, options, key_valid)
  else:
    first_step = jnp.where(
        iteration > 0, len(patchmatch.DEFAULT_STEPS) - options.refine_steps, 0)
    field, distance = _patchmatch_field(key, queries, keys, field, options,
                                        key_index, key_valid,
                                        first_step=first_step)
  weights = vote_weights(distance, fixed, options)
  # Fusing the search's last ops into the fold's loops made one iteration
  # 1.4x slower on XLA:CPU; the barrier keeps them apart.
  field, weights = jax.lax.optimization_barrier((field, weights))
  # After the first iteration the queries are the fold of the previous field
  # over the same values: the median wherever the patches covering a voxel
  # kept their matches, which after the second iteration is most voxels.
  # Checked first, they leave the median fold 2-5x fewer values to select
  # exactly than its own guess (11-4% against 17% at 13x144x256).
  guess = jnp.where(iteration > 0, queries, jnp.nan)
  output = patches_lib.fold_field(field, values, options.patch_size,
                                  reduce=options.reduce, guess=guess,
                                  weights=weights)
  return keep_fixed(output, fixed), field


def vote_weights(distance: jax.Array, fixed: jax.Array | None,
                 options: StepOptions) -> jax.Array | None:
  """Each query patch's weight in the fold (`known_weight`, `match_weight`).

  Args:
    distance: [nTq, nHq, nWq] each query patch's distance to its key.
    fixed: None, or [Tq, Hq, Wq, C] NaN where free (`search_and_fold`).
    options: static options.

  Returns:
    [nTq, nHq, nWq] float32 weights, or None when every patch counts once.
  """
  weights = None
  if options.known_weight and fixed is not None:
    known = (~jnp.isnan(fixed[..., 0])).astype(jnp.float32)
    fraction = jax.lax.reduce_window(
        known, 0.0, jax.lax.add, options.patch_size, (1, 1, 1),
        'VALID') / float(np.prod(options.patch_size))
    weights = 1.0 + options.known_weight * fraction
  if options.match_weight:
    scale = options.match_weight * jnp.maximum(jnp.median(distance), 1e-12)
    # At least 1e-6: a voxel's votes never all weigh 0.
    similarity = jnp.maximum(jnp.exp(-distance / scale), 1e-6)
    weights = similarity if weights is None else weights * similarity
  return weights


def keep_fixed(video: jax.Array, fixed: jax.Array | None) -> jax.Array:
  """`video` with the non-NaN voxels of `fixed` ([T, H, W, C]) put back."""
  if fixed is None:
    return video
  return jnp.where(jnp.isnan(fixed), video, fixed)


def run_iterations(iteration, iteration_key, queries, keys, values, field,
                   options: StepOptions, indexes=None, key_valid=None,
                   fixed=None) -> tuple[jax.Array, jax.Array]:
  """The J iterations of a level, with the keys rule.

  Args:
    iteration: `compiled_iteration(options, batched)`.
    iteration_key: `fn(i) -> PRNG key(s)` of iteration i.
    queries: the level's initial output (batched if `iteration` is).
    keys: K of the first iteration.
    values: V.
    field: the starting field (batched if `iteration` is).
    options: static options.
    indexes: `key_indexes(keys, values, options)`.
    key_valid: as in `search_and_fold` (shared by a batch).
    fixed: as in `search_and_fold` (shared by a batch).

  Returns:
    (output, field) after the last iteration.
  """
  return consume_iterations(iteration, iteration_key,
                            [queries, keys, field, indexes], values, options,
                            key_valid, fixed)


def consume_iterations(iteration, iteration_key, start: list, values,
                       options: StepOptions, key_valid=None, fixed=None,
                       later_index=None) -> tuple[jax.Array, jax.Array]:
  """`run_iterations` that frees its start as soon as it is used.

  Args:
    iteration, iteration_key, values, options, key_valid, fixed: as in
      `run_iterations`.
    start: [queries, keys, field, indexes] as in `run_iterations`; emptied
      here. Where the caller holds no other reference, the first queries and
      field are freed once the first iteration has read them, and with
      'vgpnn' so are the first keys and their key index (the later
      iterations search V). `indexes` may be `key_indexes(..., later=False)`:
      the later iterations' index is then made after the first iteration.
    later_index: `compiled_key_index(options)` or a program compiled from
      it, to make that index; None: `compiled_key_index(options)`.

  Returns:
    (output, field) after the last iteration.
  """
  output, keys, field, indexes = start
  start.clear()
  for i in range(options.num_iters):
    # 'vgpnn': K becomes V after the first iteration (the output is now as
    # sharp as V); 'gpnn': K stays.
    iteration_keys = values if options.keys_rule == 'vgpnn' and i else keys
    index = None if indexes is None else indexes[min(i, 1)]
    output, field = iteration(iteration_key(i), output, iteration_keys,
                              values, field, jnp.int32(i), index, key_valid,
                              fixed)
    del iteration_keys, index
    if i == 0 and options.keys_rule == 'vgpnn':
      keys = None
    if i == 0 and indexes is not None:
      if options.keys_rule == 'gpnn':
        indexes = (None, indexes[0] if indexes[1] is None else indexes[1])
      elif indexes[1] is not None:
        indexes = (None, indexes[1])
      else:
        indexes = None  # the first index is freed before the values' is made
        # Wait for the first iteration: run at once (XLA:CPU runs
        # independent programs concurrently), its working set and the
        # index's would be alive together.
        jax.block_until_ready(output)
        make = later_index or compiled_key_index(options)
        indexes = (None, make(values))
  return output, field


@functools.lru_cache(maxsize=None)
def compiled_iteration(options: StepOptions, batched: bool = False):
  """The jitted `search_and_fold` for these options.

  A level runs it J times from Python rather than in a `lax.fori_loop`: on
  XLA:CPU the same iteration inside a while loop ran 1.3-1.7x slower, and the
  J calls share one compiled program all the same.

  Args:
    options: static options.
    batched: if True the returned function maps over a leading axis of `key`,
      `queries` and `field` (keys and values are shared).

  Returns:
    A jitted `fn(key, queries, keys, values, field, iteration, key_index,
    key_valid, fixed) -> (output, field)`.
  """
  check_options(options)
  fn = functools.partial(search_and_fold, options=options)
  if batched:
    fn = sharding.batch_split(
        jax.vmap(fn, in_axes=(0, 0, None, None, 0, None, None, None, None)),
        (0, 1, 4))
  return jax.jit(fn)


@functools.lru_cache(maxsize=None)
def compiled_start(options: StepOptions, batched: bool = False):
  """The jitted `start_field`, `fn(key, queries, keys, key_index, key_valid)`.

  Vmapped over key and queries if batched.
  """
  check_options(options)

  def fn(key, queries, keys, key_index, key_valid):
    return start_field(key, queries, keys, options, key_index, key_valid)

  if batched:
    fn = jax.vmap(fn, in_axes=(0, 0, None, None, None))
  return jax.jit(fn)


def level_step(
    key: jax.Array,
    queries: jax.typing.ArrayLike,
    keys: jax.typing.ArrayLike,
    values: jax.typing.ArrayLike,
    *,
    init_field: jax.Array | None = None,
    patch_size: Sequence[int] = (3, 7, 7),
    num_iters: int = 5,
    reduce: str = 'median',
    keys_rule: str = 'vgpnn',
    search: str = 'exact',
    alpha: float | None = None,
    chunk_size: int = 1024,
    key_valid: jax.typing.ArrayLike | None = None,
    fixed: jax.typing.ArrayLike | None = None,
) -> tuple[jax.Array, jax.Array]:
  """One pyramid level: J iterations of nearest-patch replacement and fold.

  Args:
    key: PRNG key (used by the PatchMatch search).
    queries: [Tq, Hq, Wq, C] the initial output of this level.
    keys: [Tk, Hk, Wk, C] the video searched (the coarser input level
      upscaled, so that it is as blurred as the queries).
    values: [Tk, Hk, Wk, C] the video the patches are copied from.
    init_field: optional [nTq, nHq, nWq, 3] starting field for PatchMatch.
    patch_size: (pt, ph, pw).
    num_iters: J, iterations at this level.
    reduce: 'median' or 'mean' fold.
    keys_rule: 'vgpnn' (K becomes V after the first iteration) or 'gpnn'.
    search: 'exact' or 'patchmatch'.
    alpha: completeness term for the exact search, or None.
    chunk_size: queries per chunk of the exact search.
    key_valid: optional [nTk, nHk, nWk] bool: only the key patches where it
      is True are chosen (e.g. those wholly outside an inpainting's hole).
    fixed: optional [Tq, Hq, Wq, C]: NaN where the output is free, elsewhere
      the value it keeps (exact in the output, put back after every fold).

  Returns:
    output: [Tq, Hq, Wq, C] the new video.
    field: [nTq, nHq, nWq, 3] int32 (t, h, w) corners of the chosen patches.
  """
  queries, keys, values = (jnp.asarray(x, jnp.float32)
                           for x in (queries, keys, values))
  if keys.shape != values.shape:
    raise ValueError(f'keys {keys.shape} and values {values.shape} must have '
                     f'the same shape')
  options = StepOptions(
      patch_size=tuple(int(p) for p in patch_size), num_iters=int(num_iters),
      reduce=reduce, keys_rule=keys_rule, search=search,
      alpha=None if alpha is None else float(alpha),
      chunk_size=int(chunk_size))
  if any(n < p for n, p in zip(queries.shape[:3] + keys.shape[:3],
                               options.patch_size * 2)):
    raise ValueError(f'queries {queries.shape} and keys {keys.shape} must '
                     f'hold a {options.patch_size} patch')
  key_grid = patches_lib.grid_shape(keys.shape[:3], options.patch_size)
  if key_valid is not None:
    key_valid = jnp.asarray(key_valid)
    if key_valid.shape != key_grid or key_valid.dtype != jnp.bool_:
      raise ValueError(f'key_valid must be a {key_grid} bool array, got '
                       f'{key_valid.shape} {key_valid.dtype}')
  if fixed is not None:
    fixed = jnp.asarray(fixed, jnp.float32)
    if fixed.shape != queries.shape:
      raise ValueError(f'fixed must have the shape of the queries '
                       f'{queries.shape}, got {fixed.shape}')
    queries = keep_fixed(queries, fixed)
  start_key, key = jax.random.split(key)
  indexes = key_indexes(keys, values, options)
  field = init_field
  if field is None:
    field = compiled_start(options)(start_key, queries, keys,
                                    None if indexes is None else indexes[0],
                                    key_valid)
  return run_iterations(compiled_iteration(options),
                        functools.partial(jax.random.fold_in, key), queries,
                        keys, values, jnp.asarray(field, jnp.int32), options,
                        indexes, key_valid, fixed)


def exact_cost(query_size: Sequence[int], key_size: Sequence[int],
               patch_size: Sequence[int], channels: int = 3) -> float:
  """Flops of one exact search: 2 x queries x keys x patch dimension."""
  grid = lambda size: np.prod(patches_lib.grid_shape(size, patch_size))
  dim = np.prod(patch_size) * channels
  return 2.0 * float(grid(query_size)) * float(grid(key_size)) * float(dim)
