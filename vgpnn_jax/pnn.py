"""One pyramid level of generative patch nearest neighbours: (Q, K, V) -> video.

Every patch of the queries Q is replaced by the patch of the values V at the
position of its nearest patch in the keys K, and the chosen patches are folded
back into a video; this repeats `num_iters` times with Q = the last output.

The keys rule says what K is after the first iteration:
* 'vgpnn' (the video method): K becomes V, as Q is now as sharp as V;
* 'gpnn' (the image method): K stays the given (blurred) keys.

`level_step` is compiled once per combination of shapes and static options
(`jax.jit` caches by shape), so a pyramid of L levels compiles L programs and
a second run of the same sizes compiles nothing.
"""

import functools
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from vgpnn_jax import nn
from vgpnn_jax import patches as patches_lib
from vgpnn_jax import patchmatch

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
  """
  patch_size: tuple[int, int, int] = (3, 7, 7)
  num_iters: int = 5
  reduce: str = 'median'
  keys_rule: str = 'vgpnn'
  search: str = 'exact'
  alpha: float | None = None
  chunk_size: int = 1024


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


def _exact_field(queries: jax.Array, keys: jax.Array,
                 options: StepOptions) -> jax.Array:
  """[Tq, Hq, Wq, C], [Tk, Hk, Wk, C] -> [nTq, nHq, nWq, 3] nearest corners."""
  query_patches = patches_lib.unfold(queries, options.patch_size)
  key_patches = patches_lib.unfold(keys, options.patch_size)
  key_grid = key_patches.shape[:3]
  index, _ = nn.exact_nearest(
      query_patches.reshape(-1, query_patches.shape[-1]),
      key_patches.reshape(-1, key_patches.shape[-1]),
      alpha=options.alpha, chunk_size=options.chunk_size)
  corners = jnp.stack(jnp.unravel_index(index, key_grid), axis=-1)
  return corners.reshape(query_patches.shape[:3] + (3,)).astype(jnp.int32)


def _patchmatch_field(key: jax.Array, queries: jax.Array, keys: jax.Array,
                      field: jax.Array | None,
                      options: StepOptions) -> jax.Array:
  field, _ = patchmatch.patchmatch(key, queries, keys,
                                   patch_size=options.patch_size,
                                   init_field=field)
  return field


def _level_step(key: jax.Array, queries: jax.Array, keys: jax.Array,
                values: jax.Array, field: jax.Array | None,
                options: StepOptions) -> tuple[jax.Array, jax.Array]:
  iteration_keys = jax.random.split(key, options.num_iters)

  def iterate(output, keys, field, iteration_key):
    if options.search == 'exact':
      field = _exact_field(output, keys, options)
    else:
      field = _patchmatch_field(iteration_key, output, keys, field, options)
    output = patches_lib.fold_field(field, values, options.patch_size,
                                    reduce=options.reduce)
    return output, field

  output, field = iterate(queries, keys, field, iteration_keys[0])
  if options.keys_rule == 'vgpnn':
    keys = values  # the output is now as sharp as the values
  # The later iterations are identical: a loop compiles them once.
  return jax.lax.fori_loop(
      1, options.num_iters,
      lambda i, carry: iterate(*carry[:1], keys, carry[1], iteration_keys[i]),
      (output, field))


@functools.lru_cache(maxsize=None)
def compiled_step(options: StepOptions, batched: bool = False):
  """The jitted level step for these options, optionally vmapped over queries.

  Args:
    options: static options.
    batched: if True the returned function maps over a leading axis of `key`,
      `queries` and `field` (keys and values are shared).

  Returns:
    A jitted `fn(key, queries, keys, values, field) -> (output, field)`.
  """
  check_options(options)
  step = functools.partial(_level_step, options=options)
  if batched:
    step = jax.vmap(step, in_axes=(0, 0, None, None, 0))
  return jax.jit(step)


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
  return compiled_step(options)(key, queries, keys, values, init_field)


def exact_cost(query_size: Sequence[int], key_size: Sequence[int],
               patch_size: Sequence[int], channels: int = 3) -> float:
  """Flops of one exact search: 2 x queries x keys x patch dimension."""
  grid = lambda size: np.prod(patches_lib.grid_shape(size, patch_size))
  dim = np.prod(patch_size) * channels
  return 2.0 * float(grid(query_size)) * float(grid(key_size)) * float(dim)
