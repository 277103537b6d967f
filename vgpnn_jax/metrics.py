"""Quality metrics of generated videos: diversity and patch statistics.

Videos are float arrays `[T, H, W, C]` with values in [0, 1] (C = 3 for
`diversity`; the patch metrics take any C shared by both videos).

* `diversity` is the score of the SinGAN / VGPNN papers: the per-voxel standard
  deviation of the grey values across N samples, averaged over voxels, divided
  by the standard deviation of the reference's grey values. Grey is ITU-R BT.601
  luma, `0.299 R + 0.587 G + 0.114 B`; every standard deviation is the
  population one (ddof = 0).
* `coherence`: mean over the output's patches of the squared distance to the
  nearest reference patch; `completeness`: the same from the reference's
  patches to the output's (together, the bidirectional similarity of Simakov et
  al., CVPR 2008). Both are divided by the patch dimension `pt*ph*pw*C`, so they
  are a mean squared difference per value: 0 means every patch has an exact
  match, and e.g. 0.0014 (the VGPNN authors' outputs) or 0.0135 (the input cut
  into shuffled 8x8 blocks) with 3x7x7 patches.
* `patch_swd`: sliced 2-Wasserstein distance between the output's and the
  reference's patch sets at a few spatial scales.

Memory stays bounded at any resolution: neither video is ever unfolded as a
whole. Query patches are gathered chunk by chunk and key patches are unfolded
block by block inside the search, so the largest array is about
`chunk_size x key_chunk_size` distances. The cost is not bounded: an exact
coherence costs `2 * Nq * Nk * D` flops (7e13 for 8x168x298 against itself with
3x7x7x3 patches, about 15 min on 2 CPU cores), so subsample the queries with
`max_patches` (an unbiased estimate of the mean) and, for HD, also the keys
with `max_keys` (which biases the distances upwards: see `coherence`).

Everything is jittable: Python checks the static arguments (shapes, dtypes,
patch size, counts) and raises `ValueError`; the arrays go to jitted
implementations. Concrete (not traced) videos must also hold finite values,
else `InputError` (a `ValueError`): a NaN would make every score NaN.
"""

import functools
import math
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from vgpnn_jax import errors
from vgpnn_jax.resampling import resize as resize_video

PatchSize = tuple[int, int, int]

GREY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma

_HIGHEST = jax.lax.Precision.HIGHEST
_DEFAULT_PATCH = (3, 7, 7)


# ----------------------------------------------------------------------------
# Diversity.


def grey(video: jax.typing.ArrayLike) -> jax.Array:
  """ITU-R BT.601 luma of RGB values.

  Args:
    video: [..., 3] RGB values.

  Returns:
    [...] float32 `0.299 R + 0.587 G + 0.114 B`.
  """
  video = jnp.asarray(video)
  if video.ndim < 1 or video.shape[-1] != 3:
    raise ValueError(f'expected RGB values [..., 3], got shape {video.shape}')
  return _grey(video.astype(jnp.float32))


def _grey(video: jax.Array) -> jax.Array:
  r, g, b = GREY_WEIGHTS
  return r * video[..., 0] + g * video[..., 1] + b * video[..., 2]


@jax.jit
def _diversity(samples: jax.Array, reference: jax.Array) -> jax.Array:
  values = _grey(samples)
  # Shifting by the first sample changes no std, and makes that of identical
  # samples exactly 0 (their mean need not round back to the value).
  spread = jnp.mean(jnp.std(values - values[:1], axis=0))
  return spread / jnp.std(_grey(reference))


def diversity(samples: jax.typing.ArrayLike,
              reference: jax.typing.ArrayLike) -> jax.Array:
  """The papers' diversity score of N samples generated from one reference.

  `mean over voxels of std over samples of grey(samples)`, divided by
  `std over voxels of grey(reference)`; grey is BT.601 luma and every std is
  the population one (ddof = 0). Identical samples score 0; the score does not
  change when samples and reference are multiplied by a common factor.

  Args:
    samples: [N, T, H, W, 3] RGB samples, N >= 2, all of one shape (a list of
      [T, H, W, 3] arrays is stacked).
    reference: [T0, H0, W0, 3] RGB input the samples were made from; its shape
      may differ from the samples' (retargeting).

  Returns:
    Scalar float32; inf or NaN if the reference is constant.
  """
  _check_array_fits(samples, 'the samples')
  _check_array_fits(reference, 'the reference')
  try:
    samples = jnp.asarray(samples)
  except (TypeError, ValueError) as e:
    raise ValueError(f'samples must share one shape [T, H, W, 3]: {e}') from e
  reference = jnp.asarray(reference)
  for name, video in (('samples', samples), ('reference', reference)):
    if jnp.issubdtype(video.dtype, jnp.complexfloating):
      raise ValueError(f'the {name} must be real, got dtype {video.dtype}')
    if 0 in video.shape:
      raise ValueError(f'the {name} hold no values (shape {video.shape})')
  if samples.ndim != 5 or samples.shape[-1] != 3:
    raise ValueError(
        f'expected samples [N, T, H, W, 3], got shape {samples.shape}')
  if samples.shape[0] < 2:
    raise ValueError(f'diversity needs at least 2 samples, got '
                     f'{samples.shape[0]}')
  if reference.ndim != 4 or reference.shape[-1] != 3:
    raise ValueError(
        f'expected a reference [T, H, W, 3], got shape {reference.shape}')
  errors.check_finite(samples, 'the samples')
  errors.check_finite(reference, 'the reference')
  return _diversity(samples.astype(jnp.float32), reference.astype(jnp.float32))


# ----------------------------------------------------------------------------
# Checks shared by the patch metrics.


def _check_array_fits(video, what: str) -> None:
  """`memory.check_array_fits` before the device copy (imported here:
  memory imports the generation engine)."""
  if isinstance(video, (list, tuple)):
    return  # already in memory, and np.shape would copy it
  from vgpnn_jax import memory  # pylint: disable=g-import-not-at-top
  memory.check_array_fits(np.shape(video), what)


def _check_video(video: jax.typing.ArrayLike, name: str) -> jax.Array:
  """A [T, H, W, C] float video with values, as float32."""
  _check_array_fits(video, f'the {name}')
  video = jnp.asarray(video)
  if video.ndim != 4:
    raise ValueError(f'expected {name} of shape [T, H, W, C], got '
                     f'{video.shape}')
  if not jnp.issubdtype(video.dtype, jnp.floating):
    raise ValueError(f'expected {name} as a float video in [0, 1], got dtype '
                     f'{video.dtype}; divide 8-bit values (0-255) by 255')
  if 0 in video.shape:
    raise ValueError(f'the {name} is empty (shape {video.shape})')
  errors.check_finite(video, f'the {name}')
  return video.astype(jnp.float32)


def _check_pair(output, reference) -> tuple[jax.Array, jax.Array]:
  output = _check_video(output, 'output')
  reference = _check_video(reference, 'reference')
  if output.shape[-1] != reference.shape[-1]:
    raise ValueError(f'output and reference have {output.shape[-1]} and '
                     f'{reference.shape[-1]} channels; they must match')
  return output, reference


def _check_patch_size(patch_size: Sequence[int],
                      *videos: jax.Array) -> PatchSize:
  try:
    patch_size = tuple(int(p) for p in patch_size)
  except TypeError:
    raise ValueError(f'patch_size must be 3 positive ints, got '
                     f'{patch_size!r}') from None
  if len(patch_size) != 3 or min(patch_size) < 1:
    raise ValueError(f'patch_size must be 3 positive ints, got {patch_size}')
  for video in videos:
    if any(n < p for n, p in zip(video.shape[:3], patch_size)):
      raise ValueError(f'a video of size {video.shape[:3]} is smaller than '
                       f'the patch {patch_size}; use a smaller patch_size')
  return patch_size


def _check_count(value: int | None, name: str) -> int | None:
  if value is None:
    return None
  if isinstance(value, bool) or int(value) != value or value < 1:
    raise ValueError(f'{name} must be a positive int or None, got {value!r}')
  return int(value)


def _grid(size: Sequence[int], patch_size: PatchSize) -> PatchSize:
  return tuple(int(n) - int(p) + 1 for n, p in zip(size, patch_size))


def _effective(limit: int | None, count: int) -> int | None:
  """`limit` if it actually subsamples `count` items, else None."""
  return None if limit is None or limit >= count else limit


def _check_mask(mask, output: jax.Array) -> jax.Array | None:
  if mask is None:
    return None
  mask = jnp.asarray(mask)
  if mask.shape != output.shape[:3]:
    raise ValueError(f'mask must be [T, H, W] = {output.shape[:3]} like the '
                     f'output, got {mask.shape}')
  return mask.astype(jnp.float32)


def centre_weights(mask: jax.typing.ArrayLike,
                   patch_size: Sequence[int]) -> jax.Array:
  """Which patches of a video have their centre inside a mask.

  The patch with corner (t, h, w) has its centre at
  `(t + pt // 2, h + ph // 2, w + pw // 2)` (the exact centre for odd sizes,
  the next voxel after the middle for even ones); it is inside when the mask
  there is > 0.5.

  Args:
    mask: [T, H, W] values; 1 (or True) marks the region.
    patch_size: (pt, ph, pw).

  Returns:
    [T-pt+1, H-ph+1, W-pw+1] float32, 1 inside and 0 outside.
  """
  mask = jnp.asarray(mask)
  if mask.ndim != 3:
    raise ValueError(f'expected a [T, H, W] mask, got shape {mask.shape}')
  patch_size = _check_patch_size(patch_size, mask[..., None])
  return _centre_weights(mask.astype(jnp.float32), patch_size)


def _centre_weights(mask: jax.Array, patch_size: PatchSize) -> jax.Array:
  nt, nh, nw = _grid(mask.shape, patch_size)
  ct, ch, cw = (p // 2 for p in patch_size)
  inside = mask[ct:ct + nt, ch:ch + nh, cw:cw + nw] > 0.5
  return inside.astype(jnp.float32)


# ----------------------------------------------------------------------------
# Patches gathered without unfolding the video.


def _corners(flat: jax.Array, grid: PatchSize) -> tuple[jax.Array, ...]:
  _, nh, nw = grid
  return flat // (nh * nw), (flat // nw) % nh, flat % nw


def _gather_patches(video: jax.Array, flat: jax.Array, grid: PatchSize,
                    patch_size: PatchSize) -> jax.Array:
  """[n] flat patch indices -> [n, pt*ph*pw*C] patches, ordered as `unfold`."""
  t, h, w = _corners(flat, grid)
  window = patch_size + (video.shape[-1],)

  def one(t, h, w):
    return jax.lax.dynamic_slice(video, (t, h, w, 0), window).reshape(-1)

  return jax.vmap(one)(t, h, w)


def _select(key: jax.Array | None, count: int, limit: int | None,
            weights: jax.Array | None) -> tuple[jax.Array, jax.Array]:
  """Indices of the patches used, and their weights.

  Without a `limit` every patch is used with its weight (1 without weights).
  With one, `limit` patches are drawn uniformly at random without
  replacement among those of non-zero weight (if fewer have a non-zero weight,
  all of them plus some of weight zero, which then count for nothing).
  """
  if limit is None:
    indices = jnp.arange(count, dtype=jnp.int32)
    chosen = jnp.ones((count,), jnp.float32) if weights is None else weights
    return indices, chosen
  # Random 31-bit scores (integers sort faster than floats on XLA:CPU); the
  # patches of weight zero get a larger score than any, so they come last.
  scores = jax.random.bits(key, (count,), jnp.uint32) >> 1
  if weights is not None:
    scores = jnp.where(weights > 0, scores, jnp.uint32(0xFFFFFFFF))
  indices = jnp.argsort(scores)[:limit].astype(jnp.int32)
  if weights is None:
    return indices, jnp.ones((limit,), jnp.float32)
  return indices, weights[indices]


def _pad_rows(x: jax.Array, multiple: int) -> jax.Array:
  pad = -x.shape[0] % multiple
  return jnp.pad(x, ((0, pad),) + ((0, 0),) * (x.ndim - 1))


# ----------------------------------------------------------------------------
# Coherence and completeness.


def _unfold_rows(video: jax.Array, rows: jax.Array, grid: PatchSize,
                 patch_size: PatchSize) -> jax.Array:
  """All patches of the (t, h) patch rows `rows`: [R * nW, D]."""
  _, nh, nw = grid
  pt, ph, pw = patch_size
  channels = video.shape[-1]

  def slab(row):
    return jax.lax.dynamic_slice(video, (row // nh, row % nh, 0, 0),
                                 (pt, ph, video.shape[2], channels))

  slabs = jax.vmap(slab)(rows)  # [R, pt, ph, W, C]
  windows = jnp.stack([slabs[:, :, :, kw:kw + nw] for kw in range(pw)],
                      axis=3)  # [R, pt, ph, pw, nW, C]
  windows = windows.transpose(0, 4, 1, 2, 3, 5)
  return windows.reshape(rows.shape[0] * nw, -1)


def _nearest_sq(queries: jax.Array, key_blocks, num_blocks: int) -> jax.Array:
  """Squared distance of every query to its nearest key.

  Keys come in blocks, `key_blocks(b) -> (keys [Bk, D], valid [Bk])`; a scan
  keeps the best distance and the best key vector per query, and the result is
  re-scored exactly as `sum((q - k)^2)` (so an identical patch gives 0, not the
  rounding error of `|q|^2 - 2 q.k + |k|^2`).
  """
  queries_sq = jnp.sum(queries * queries, axis=-1)

  def body(carry, block):
    best, best_keys = carry
    keys, valid = key_blocks(block)
    keys_sq = jnp.sum(keys * keys, axis=-1)
    cross = jnp.matmul(queries, keys.T, precision=_HIGHEST)
    distances = queries_sq[:, None] - 2 * cross + keys_sq[None, :]
    distances = jnp.where(valid[None, :], distances, jnp.inf)
    smallest = jnp.min(distances, axis=-1)
    # argmin is slow on XLA:CPU: the first position equal to the minimum.
    positions = jnp.arange(keys.shape[0], dtype=jnp.int32)
    index = jnp.min(jnp.where(distances == smallest[:, None], positions,
                              keys.shape[0] - 1), axis=-1)
    better = smallest < best
    best = jnp.where(better, smallest, best)
    best_keys = jnp.where(better[:, None], keys[index], best_keys)
    return (best, best_keys), None

  init = (jnp.full(queries.shape[:1], jnp.inf, jnp.float32),
          jnp.zeros_like(queries))
  (_, best_keys), _ = jax.lax.scan(body, init,
                                   jnp.arange(num_blocks, dtype=jnp.int32))
  return jnp.sum(jnp.square(queries - best_keys), axis=-1)


@functools.partial(
    jax.jit,
    static_argnames=('patch_size', 'max_queries', 'max_keys', 'chunk_size',
                     'key_chunk_size'))
def _mean_nearest(query_video, key_video, query_weights, rng, patch_size,
                  max_queries, max_keys, chunk_size, key_chunk_size):
  """Weighted mean over query patches of the squared distance to the nearest
  key patch, per value."""
  dim = int(np.prod(patch_size)) * query_video.shape[-1]
  # Distances do not change under a common shift; centring [0, 1] values keeps
  # |q|^2 small, so the float32 expansion loses less to cancellation. A
  # constant, not the data mean: XLA may compute a mean twice in two fusions
  # with different rounding, and then a patch no longer matches its copy.
  query_video = query_video - 0.5
  key_video = key_video - 0.5
  query_grid = _grid(query_video.shape[:3], patch_size)
  key_grid = _grid(key_video.shape[:3], patch_size)
  num_queries = math.prod(query_grid)
  num_keys = math.prod(key_grid)
  query_rng, key_rng = (None, None) if rng is None else jax.random.split(rng)

  if query_weights is not None:
    query_weights = query_weights.reshape(-1)
  query_ids, weights = _select(query_rng, num_queries, max_queries,
                               query_weights)

  if max_keys is None:
    # Whole (t, h) patch rows of the key video, unfolded one block at a time.
    num_rows = key_grid[0] * key_grid[1]
    rows_per_block = max(1, min(num_rows, key_chunk_size // key_grid[2]))
    num_blocks = -(-num_rows // rows_per_block)

    def key_blocks(block):
      rows = block * rows_per_block + jnp.arange(rows_per_block,
                                                 dtype=jnp.int32)
      valid = jnp.repeat(rows < num_rows, key_grid[2])
      keys = _unfold_rows(key_video, jnp.minimum(rows, num_rows - 1),
                          key_grid, patch_size)
      return keys, valid
  else:
    key_ids, _ = _select(key_rng, num_keys, max_keys, None)
    block_size = min(max_keys, key_chunk_size)
    num_blocks = -(-max_keys // block_size)
    key_ids = _pad_rows(key_ids, block_size).reshape(num_blocks, block_size)
    valid_keys = (_pad_rows(jnp.ones((max_keys,), bool), block_size)
                  .reshape(num_blocks, block_size))

    def key_blocks(block):
      keys = _gather_patches(key_video, key_ids[block], key_grid, patch_size)
      return keys, valid_keys[block]

  count = query_ids.shape[0]
  chunk = max(1, min(chunk_size, count))
  chunks = _pad_rows(query_ids, chunk).reshape(-1, chunk)

  def search(ids):
    queries = _gather_patches(query_video, ids, query_grid, patch_size)
    return _nearest_sq(queries, key_blocks, num_blocks)

  distances = jax.lax.map(search, chunks).reshape(-1)[:count]
  return jnp.sum(weights * distances) / (jnp.sum(weights) * dim)


def _patch_distance(queries_from, keys_from, mask, *, patch_size, max_patches,
                    max_keys, key, chunk_size, key_chunk_size):
  """Shared front end of `coherence` and `completeness`."""
  patch_size = _check_patch_size(patch_size, queries_from, keys_from)
  max_patches = _check_count(max_patches, 'max_patches')
  max_keys = _check_count(max_keys, 'max_keys')
  chunk_size = _check_count(chunk_size, 'chunk_size')
  key_chunk_size = _check_count(key_chunk_size, 'key_chunk_size')
  max_queries = _effective(max_patches,
                           math.prod(_grid(queries_from.shape, patch_size)))
  max_keys = _effective(max_keys, math.prod(_grid(keys_from.shape, patch_size)))
  if key is None and (max_queries is not None or max_keys is not None):
    raise ValueError('max_patches / max_keys subsample the patches at random: '
                     'pass a `key`')
  weights = None if mask is None else _centre_weights(mask, patch_size)
  return _mean_nearest(queries_from, keys_from, weights, key, patch_size,
                       max_queries, max_keys, chunk_size, key_chunk_size)


def coherence(output: jax.typing.ArrayLike,
              reference: jax.typing.ArrayLike,
              *,
              patch_size: Sequence[int] = _DEFAULT_PATCH,
              mask: jax.typing.ArrayLike | None = None,
              max_patches: int | None = None,
              max_keys: int | None = None,
              key: jax.Array | None = None,
              chunk_size: int = 2048,
              key_chunk_size: int = 16384) -> jax.Array:
  """Mean distance from the output's patches to their nearest reference patch.

  `mean over output patches q of min over reference patches k of
  sum((q - k)^2) / D`, with `D = pt*ph*pw*C`: a mean squared difference per
  value; 0 when every output patch appears in the reference.

  Args:
    output: [T, H, W, C] video in [0, 1].
    reference: [T0, H0, W0, C] video in [0, 1]; its size may differ.
    patch_size: (pt, ph, pw).
    mask: optional [T, H, W] over the output (1 = evaluate here, e.g. the
      filled hole of an inpainting): only output patches whose centre
      `(t + pt//2, h + ph//2, w + pw//2)` has mask > 0.5 count (see
      `centre_weights`). NaN if no patch centre is inside.
    max_patches: if set and the output has more (masked) patches, the mean is
      taken over this many drawn uniformly at random without replacement: an
      unbiased estimate whose standard error falls as 1 / sqrt(max_patches).
    max_keys: if set, each query searches only this many reference patches
      drawn at random. Cheaper by `Nk / max_keys` but biased upwards (a
      subset's nearest patch is farther), so values are comparable only at the
      same `max_keys`; leave it None unless the exact search is out of reach.
    key: PRNG key; needed when `max_patches` or `max_keys` subsample.
    chunk_size: query patches searched together.
    key_chunk_size: reference patches unfolded together; memory is about
      `4 * chunk_size * key_chunk_size` bytes plus `key_chunk_size * D * 4`.

  Returns:
    Scalar float32.
  """
  output, reference = _check_pair(output, reference)
  return _patch_distance(output, reference, _check_mask(mask, output),
                         patch_size=patch_size, max_patches=max_patches,
                         max_keys=max_keys, key=key, chunk_size=chunk_size,
                         key_chunk_size=key_chunk_size)


def completeness(output: jax.typing.ArrayLike,
                 reference: jax.typing.ArrayLike,
                 *,
                 patch_size: Sequence[int] = _DEFAULT_PATCH,
                 max_patches: int | None = None,
                 max_keys: int | None = None,
                 key: jax.Array | None = None,
                 chunk_size: int = 2048,
                 key_chunk_size: int = 16384) -> jax.Array:
  """Mean distance from the reference's patches to their nearest output patch.

  `coherence` with the roles swapped: low when the output keeps all of the
  reference's content. `max_patches` subsamples the reference's patches and
  `max_keys` the output's, with the same trade-offs as in `coherence`.

  Args:
    output: [T, H, W, C] video in [0, 1].
    reference: [T0, H0, W0, C] video in [0, 1].
    patch_size: (pt, ph, pw).
    max_patches: reference patches averaged over (None: all).
    max_keys: output patches searched (None: all).
    key: PRNG key; needed when `max_patches` or `max_keys` subsample.
    chunk_size: reference patches searched together.
    key_chunk_size: output patches unfolded together.

  Returns:
    Scalar float32, a mean squared difference per value.
  """
  output, reference = _check_pair(output, reference)
  return _patch_distance(reference, output, None, patch_size=patch_size,
                         max_patches=max_patches, max_keys=max_keys, key=key,
                         chunk_size=chunk_size, key_chunk_size=key_chunk_size)


class Bidirectional(NamedTuple):
  """Both terms of the bidirectional similarity (Simakov et al. 2008)."""
  coherence: jax.Array
  completeness: jax.Array


def bidirectional(output: jax.typing.ArrayLike,
                  reference: jax.typing.ArrayLike,
                  *,
                  patch_size: Sequence[int] = _DEFAULT_PATCH,
                  mask: jax.typing.ArrayLike | None = None,
                  max_patches: int | None = None,
                  max_keys: int | None = None,
                  key: jax.Array | None = None,
                  chunk_size: int = 2048,
                  key_chunk_size: int = 16384) -> Bidirectional:
  """`coherence` and `completeness` together.

  Args:
    output: [T, H, W, C] video in [0, 1].
    reference: [T0, H0, W0, C] video in [0, 1].
    patch_size: (pt, ph, pw).
    mask: [T, H, W] output mask, applied to the coherence only.
    max_patches: query patches per direction (None: all).
    max_keys: searched patches per direction (None: all).
    key: PRNG key, split in two (coherence, completeness); needed when
      subsampling.
    chunk_size: as in `coherence`.
    key_chunk_size: as in `coherence`.

  Returns:
    `Bidirectional(coherence, completeness)`, scalars.
  """
  keys = (None, None) if key is None else tuple(jax.random.split(key))
  options = dict(patch_size=patch_size, max_patches=max_patches,
                 max_keys=max_keys, chunk_size=chunk_size,
                 key_chunk_size=key_chunk_size)
  return Bidirectional(
      coherence(output, reference, mask=mask, key=keys[0], **options),
      completeness(output, reference, key=keys[1], **options))


# ----------------------------------------------------------------------------
# Sliced Wasserstein distance.


def random_directions(key: jax.Array, dim: int, num: int) -> jax.Array:
  """Directions drawn uniformly on the unit sphere.

  Args:
    key: PRNG key.
    dim: the dimension D.
    num: how many directions.

  Returns:
    [D, num] float32, unit columns.
  """
  return _random_directions(key, int(dim), int(num))


@functools.partial(jax.jit, static_argnums=(1, 2))
def _random_directions(key, dim, num):
  directions = jax.random.normal(key, (dim, num), jnp.float32)
  return directions / jnp.linalg.norm(directions, axis=0, keepdims=True)


def _sort_rows(x: jax.Array) -> jax.Array:
  """Sorts float32 rows along the last axis.

  XLA:CPU sorts float32 about 5x slower than int32 (its float comparator
  orders NaNs), so sort the order-preserving int32 image of the bits: negative
  floats get their 31 low bits flipped. The map is its own inverse.
  """

  def flip(bits):
    return bits ^ ((bits >> 31) & jnp.int32(0x7FFFFFFF))

  bits = jax.lax.bitcast_convert_type(x, jnp.int32)
  ordered = jax.lax.sort(flip(bits), dimension=x.ndim - 1, is_stable=False)
  return jax.lax.bitcast_convert_type(flip(ordered), jnp.float32)


@functools.lru_cache(maxsize=64)
def _quantile_pairs(na: int, nb: int) -> tuple[np.ndarray, ...]:
  """Common quantile intervals of two uniform empirical distributions.

  On (0, 1), the quantile function of n sorted values is piecewise constant
  with steps at i / n. Merging the steps of both sets gives the intervals on
  which both are constant: for each, the index into each sorted set and its
  length. In integer units of 1 / (na * nb) the merge is exact.
  """
  steps = np.union1d(np.arange(na + 1, dtype=np.int64) * nb,
                     np.arange(nb + 1, dtype=np.int64) * na)
  starts = steps[:-1]
  lengths = np.diff(steps) / (na * nb)
  return ((starts // nb).astype(np.int32), (starts // na).astype(np.int32),
          lengths.astype(np.float32))


def _w2_sq(a: jax.Array, b: jax.Array,
           a_count: jax.Array | None = None) -> jax.Array:
  """Squared 2-Wasserstein distances of the rows' 1-D distributions.

  Args:
    a: [P, Na] sorted rows.
    b: [P, Nb] sorted rows.
    a_count: None if all of `a` counts; else a traced int: only the first
      `a_count` values of every row count (the rest are padding sorted last).

  Returns:
    [P] `integral over (0, 1) of (Fa^-1(s) - Fb^-1(s))^2 ds`.
  """
  na, nb = a.shape[1], b.shape[1]
  if a_count is None:
    if na == nb:
      return jnp.mean(jnp.square(a - b), axis=1)
    index_a, index_b, lengths = _quantile_pairs(na, nb)
  else:
    # The steps of `a` sit at i / a_count, known only at run time: merge them
    # with those of `b` by one sort of the positions (non-negative floats, so
    # their bits sort as int32). Exact up to float32 rounding of positions,
    # which can only mis-assign intervals of length ~1e-7.
    count = a_count.astype(jnp.float32)
    steps_a = jnp.minimum(jnp.arange(1, na + 1, dtype=jnp.float32) / count, 1)
    steps_b = jnp.arange(1, nb + 1, dtype=jnp.float32) / nb
    steps = jnp.concatenate([jnp.zeros((1,), jnp.float32), steps_a, steps_b])
    steps = jax.lax.bitcast_convert_type(
        jax.lax.sort(jax.lax.bitcast_convert_type(steps, jnp.int32)),
        jnp.float32)
    lengths = jnp.diff(steps)
    middles = steps[:-1] + lengths / 2
    index_a = jnp.clip(jnp.floor(middles * count).astype(jnp.int32), 0,
                       jnp.maximum(a_count - 1, 0))
    index_b = jnp.clip(jnp.floor(middles * nb).astype(jnp.int32), 0, nb - 1)
  diff = a[:, index_a] - b[:, index_b]
  return jnp.sum(jnp.asarray(lengths)[None, :] * jnp.square(diff), axis=1)


def _sliced_w2(a: jax.Array, b: jax.Array,
               a_valid: jax.Array | None = None) -> jax.Array:
  """[Na, P], [Nb, P] projections (optional [Na] bool) -> scalar SW2."""
  a = a.T
  count = None
  if a_valid is not None:
    a = jnp.where(a_valid[None, :], a, jnp.inf)  # padding sorts last
    count = jnp.sum(a_valid, dtype=jnp.int32)
  w2_sq = _w2_sq(_sort_rows(a), _sort_rows(b.T), count)
  return jnp.sqrt(jnp.mean(w2_sq))


@jax.jit
def _sliced_wasserstein(x, y, directions, x_valid):
  a = jnp.matmul(x, directions, precision=_HIGHEST)
  b = jnp.matmul(y, directions, precision=_HIGHEST)
  return _sliced_w2(a, b, x_valid)


def sliced_wasserstein(x: jax.typing.ArrayLike,
                       y: jax.typing.ArrayLike,
                       directions: jax.typing.ArrayLike,
                       *,
                       x_valid: jax.typing.ArrayLike | None = None
                      ) -> jax.Array:
  """Sliced 2-Wasserstein distance between two point sets.

  `sqrt(mean over directions u of W2(x.u, y.u)^2)`, where W2 of two 1-D
  empirical distributions is `sqrt(integral over (0, 1) of (Fx^-1(s) -
  Fy^-1(s))^2 ds)`. The integral is taken on the merged steps of both
  quantile functions, so sets of different sizes compare at common quantile
  positions, exactly (for equal sizes: the mean squared difference of the
  sorted projections).

  Args:
    x: [Nx, D] points.
    y: [Ny, D] points.
    directions: [D, P] unit directions (see `random_directions`).
    x_valid: optional [Nx] bool; only the points of `x` marked True count.
      NaN if none does.

  Returns:
    Scalar float32, in the units of the points.
  """
  x = jnp.asarray(x, jnp.float32)
  y = jnp.asarray(y, jnp.float32)
  directions = jnp.asarray(directions, jnp.float32)
  if (x.ndim != 2 or y.ndim != 2 or directions.ndim != 2 or
      not x.shape[1] == y.shape[1] == directions.shape[0]):
    raise ValueError(f'expected [Nx, D], [Ny, D] and [D, P], got {x.shape}, '
                     f'{y.shape} and {directions.shape}')
  if x_valid is not None:
    x_valid = jnp.asarray(x_valid).astype(bool)
    if x_valid.shape != x.shape[:1]:
      raise ValueError(f'x_valid must be [{x.shape[0]}], got {x_valid.shape}')
  return _sliced_wasserstein(x, y, directions, x_valid)


def _project(video, directions, rng, limit, weights, patch_size, chunk_size):
  """Projections [n, P] of (a subsample of) a video's patches.

  Returns the projections and, when `weights` are given, which of the n
  patches are inside the mask (else None).
  """
  grid = _grid(video.shape[:3], patch_size)
  if weights is not None:
    weights = weights.reshape(-1)
  if limit is None:
    # Every patch: unfold whole (t, h) patch rows a block at a time.
    num_rows = grid[0] * grid[1]
    rows_per_block = max(1, min(num_rows, chunk_size // grid[2]))
    rows = _pad_rows(jnp.arange(num_rows, dtype=jnp.int32), rows_per_block)
    rows = jnp.minimum(rows, num_rows - 1).reshape(-1, rows_per_block)

    def project(block_rows):
      patches = _unfold_rows(video, block_rows, grid, patch_size)
      return jnp.matmul(patches, directions, precision=_HIGHEST)

    projected = jax.lax.map(project, rows)
    projected = projected.reshape(-1, directions.shape[1])[:math.prod(grid)]
    return projected, None if weights is None else weights > 0
  ids, chosen = _select(rng, math.prod(grid), limit, weights)
  chunk = max(1, min(chunk_size, limit))
  chunks = _pad_rows(ids, chunk).reshape(-1, chunk)

  def project_ids(chunk_ids):
    patches = _gather_patches(video, chunk_ids, grid, patch_size)
    return jnp.matmul(patches, directions, precision=_HIGHEST)

  projected = jax.lax.map(project_ids, chunks)
  projected = projected.reshape(-1, directions.shape[1])[:limit]
  return projected, None if weights is None else chosen > 0


@functools.partial(
    jax.jit,
    static_argnames=('patch_size', 'output_limit', 'reference_limit',
                     'chunk_size'))
def _swd_one_scale(output, reference, mask, directions, output_key,
                   reference_key, patch_size, output_limit, reference_limit,
                   chunk_size):
  weights = None if mask is None else _centre_weights(mask, patch_size)
  a, a_valid = _project(output, directions, output_key, output_limit,
                        weights, patch_size, chunk_size)
  b, _ = _project(reference, directions, reference_key, reference_limit, None,
                  patch_size, chunk_size)
  return _sliced_w2(a, b, a_valid)


def _swd_keys(key: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """(directions, output subsample, reference subsample) keys of one scale."""
  keys = jax.random.split(key, 3)
  return keys[0], keys[1], keys[2]


def _limit_for(limit, size, patch_size):
  return _effective(limit, math.prod(_grid(size, patch_size)))


def _scaled_size(size: Sequence[int], scale: float) -> tuple[int, int, int]:
  t, h, w = size
  return (int(t), max(1, int(round(h / scale))), max(1, int(round(w / scale))))


class SwdResult(NamedTuple):
  """Patch SWD at each scale and their mean.

  Attributes:
    per_scale: [S] float32, one value per entry of `scales`.
    mean: scalar float32, the mean of `per_scale`.
  """
  per_scale: jax.Array
  mean: jax.Array


def patch_swd(output: jax.typing.ArrayLike,
              reference: jax.typing.ArrayLike,
              *,
              key: jax.Array,
              patch_size: Sequence[int] = _DEFAULT_PATCH,
              scales: Sequence[float] = (1, 2, 4),
              num_projections: int = 128,
              max_patches: int | None = None,
              mask: jax.typing.ArrayLike | None = None,
              chunk_size: int = 4096) -> SwdResult:
  """Sliced Wasserstein distance between output and reference patch sets.

  At each scale s both videos are downscaled in space by s (to
  `(T, round(H / s), round(W / s))` with `vgpnn_jax.resampling.resize`, time
  untouched), their patches projected on `num_projections` random unit
  directions of the D = pt*ph*pw*C patch space, and the value is
  `sqrt(mean over directions of W2^2)` between the projected sets (see
  `sliced_wasserstein`): in value units, 0 for identical patch sets. A random
  unit direction sees `|q - k|^2 / D` on average, so the square of the SWD is
  on the scale of a per-value mean squared difference, like `coherence`.

  Scale i uses `jax.random.fold_in(key, i)`, split into the directions' key
  and the two subsampling keys; output and reference are subsampled
  independently, so with `max_patches` a copy of the reference scores a small
  non-zero noise floor rather than 0.

  Args:
    output: [T, H, W, C] video in [0, 1].
    reference: [T0, H0, W0, C] video in [0, 1]; its size may differ.
    key: PRNG key for the directions and the subsampling.
    patch_size: (pt, ph, pw), the same at every scale.
    scales: spatial downscale factors (>= 1); every scaled video must still
      hold a patch.
    num_projections: random directions per scale.
    max_patches: if set, at most this many patches of each video per scale,
      drawn uniformly at random without replacement (the projections take
      `4 * num_projections` bytes per patch: 720p needs this).
    mask: optional [T, H, W] over the output: only output patches whose centre
      is inside count (the rule of `centre_weights`); at scale s the mask is
      resized like the video and a voxel is inside when it is > 0.5.
    chunk_size: patches projected together.

  Returns:
    `SwdResult(per_scale [S], mean)`.
  """
  output, reference = _check_pair(output, reference)
  mask = _check_mask(mask, output)
  patch_size = _check_patch_size(patch_size, output, reference)
  num_projections = _check_count(num_projections, 'num_projections')
  max_patches = _check_count(max_patches, 'max_patches')
  chunk_size = _check_count(chunk_size, 'chunk_size')
  scales = tuple(float(s) for s in scales)
  if not scales or min(scales) < 1:
    raise ValueError(f'scales must be one or more factors >= 1, got {scales}')
  if key is None:
    raise ValueError('patch_swd draws random directions: pass a `key`')
  sizes = []
  for scale in scales:
    out_size = _scaled_size(output.shape[:3], scale)
    ref_size = _scaled_size(reference.shape[:3], scale)
    if any(n < p for size in (out_size, ref_size)
           for n, p in zip(size, patch_size)):
      raise ValueError(
          f'at scale {scale:g} the videos are {out_size} and {ref_size}, '
          f'smaller than the patch {patch_size}; drop that scale')
    sizes.append((out_size, ref_size))
  dim = math.prod(patch_size) * output.shape[-1]
  values = []
  for index, (out_size, ref_size) in enumerate(sizes):
    scaled_out = resize_video(output, out_size)
    scaled_ref = resize_video(reference, ref_size)
    scaled_mask = None if mask is None else resize_video(mask, out_size)
    # Directions drawn outside the jitted step: one compiled draw serves every
    # scale and video size.
    direction_key, output_key, reference_key = _swd_keys(
        jax.random.fold_in(key, index))
    directions = random_directions(direction_key, dim, num_projections)
    values.append(_swd_one_scale(
        scaled_out, scaled_ref, scaled_mask, directions, output_key,
        reference_key, patch_size,
        _limit_for(max_patches, out_size, patch_size),
        _limit_for(max_patches, ref_size, patch_size), chunk_size))
  per_scale = jnp.stack(values)
  return SwdResult(per_scale, jnp.mean(per_scale))


def usable_scales(sizes: Sequence[Sequence[int]],
                   patch_size: Sequence[int] = _DEFAULT_PATCH,
                   scales: Sequence[float] = (1, 2, 4)) -> tuple[float, ...]:
  """The entries of `scales` at which every video of `sizes` holds a patch.

  Args:
    sizes: (T, H, W) of each video.
    patch_size: (pt, ph, pw).
    scales: candidate downscale factors.

  Returns:
    The usable factors, in the given order.
  """
  patch_size = tuple(int(p) for p in patch_size)
  return tuple(
      s for s in scales
      if all(n >= p for size in sizes
             for n, p in zip(_scaled_size(size, s), patch_size)))
