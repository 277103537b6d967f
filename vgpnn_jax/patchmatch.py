"""Approximate nearest-patch field by PatchMatch with jump-flood propagation.

For every patch of a query video, `patchmatch` finds a patch of a key video at
small sum of squared differences (over the whole patch, all channels), without
ever comparing every query with every key, and without unfolding the keys.

The field (for every query patch, the (t, h, w) corner of its key patch) starts
at random, or from a given field. Each jump-flood step at distance `step`
scores, for every query, the candidates

- the current match jittered by up to `radius` in each coordinate;
- for each of its (up to) 6 axis neighbours at distance `step` (+-T, +-H, +-W),
  the neighbour's match shifted back by the same offset, and that jittered;
- at the first step of each pass, one uniformly random corner (a random read
  costs about as much as all the other candidates together, and drawing one
  at every step gained nothing measurable);

and keeps the best of those and the current match. Steps (8, 4, 2, 1) make one
pass; the passes repeat. All queries are updated from the previous field
(Jacobi order), in blocks with `lax.map`.

Candidates are scored on short descriptors: the projection of each patch on
its first `descriptor_dim` principal components (fit on a few thousand key
patches, computed once per call as one convolution; the keys' side,
`key_index`, can be computed once and shared by several calls on the same
keys). The final match is re-scored exactly on the full patches, gathered
straight from the videos, so the returned distances are exact. With
`descriptor_dim=None`, every candidate is scored exactly (4-5x slower).

Keys can be excluded (`key_valid`, e.g. the patches that overlap the hole of
an inpainting): the random start and the random candidates are drawn among
the valid keys only, a start that points to an invalid key is redrawn, and
every other candidate that lands on one scores +inf, so it is never kept.

Memory stays a small multiple of the video size: the descriptors
(`descriptor_dim` floats per patch) and per-block temporaries. Randomness
comes from `key` only: the random start uses `jax.random`, the candidates an
integer hash of the position, the step and the candidate, seeded from `key`
(cheaper on CPU than `jax.random` for every candidate). The principal
components depend on the keys alone.
"""

import functools
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from vgpnn_jax import sharding
from vgpnn_jax.patches import compact
from vgpnn_jax.patches import grid_shape
from vgpnn_jax.patches import ravel_index
from vgpnn_jax.patches import set_where
from vgpnn_jax.patches import unravel_index

_HIGHEST = jax.lax.Precision.HIGHEST

Shape3 = tuple[int, int, int]

# Jump-flood steps of one pass and their jitter radii (DESIGN §1).
DEFAULT_STEPS = (8, 4, 2, 1)
DEFAULT_RADII = (2, 2, 1, 1)

# Subspace iteration for the principal components: extra directions carried
# along, and rounds.
_PCA_OVERSAMPLE = 8
_PCA_ITERATIONS = 6
# Output channels per descriptor convolution (see `_descriptors`).
_CONV_GROUP = 16


def _hash(x: jax.Array) -> jax.Array:
  """A 32-bit integer mix (lowbias32, C. Wellons): a bijection of uint32."""
  x = x ^ (x >> 16)
  x = x * jnp.uint32(0x7FEB352D)
  x = x ^ (x >> 15)
  x = x * jnp.uint32(0x846CA68B)
  return x ^ (x >> 16)


def _take(values: jax.Array, indices: jax.Array) -> jax.Array:
  """`values[indices]` for indices known to be in bounds (no index fix-up)."""
  return values.at[indices].get(mode='promise_in_bounds')


def _clip(coords: Sequence[jax.Array], grid: Shape3) -> tuple[jax.Array, ...]:
  return tuple(jnp.clip(c, 0, n - 1) for c, n in zip(coords, grid))


def _windows(video: jax.Array, coords: Sequence[jax.Array],
             patch_size: Shape3) -> jax.Array:
  """Patches at corners, gathered straight from a video.

  Args:
    video: [T, H, W, C] video.
    coords: (t, h, w) int32 corners, each of shape S.
    patch_size: (pt, ph, pw).

  Returns:
    [*S, pt, ph, pw*C] patches.
  """
  pt, ph, pw = patch_size
  channels = video.shape[-1]
  rows = video.reshape(video.shape[0], video.shape[1], -1)
  def window(t, h, w):
    return jax.lax.dynamic_slice(rows, (t, h, w * channels),
                                 (pt, ph, pw * channels))
  for _ in range(coords[0].ndim):
    window = jax.vmap(window)
  return window(*coords)


def _orthonormalize(vectors: jax.Array) -> jax.Array:
  """Gram-Schmidt (twice) on the columns of [P, K] vectors, in plain XLA ops.

  LAPACK's QR, called from XLA:CPU, took 30+ ms for 441 x 24 on a busy
  machine; this takes well under one.
  """
  width = vectors.shape[1]
  index = jnp.arange(width)

  def column(j, basis):
    v = basis[:, j]
    for _ in range(2):
      coeffs = jnp.where(index < j, jnp.matmul(v, basis, precision=_HIGHEST),
                         0)
      v = v - jnp.matmul(basis, coeffs, precision=_HIGHEST)
    v = v / jnp.maximum(jnp.linalg.norm(v), 1e-30)
    return basis.at[:, j].set(v)

  return jax.lax.fori_loop(0, width, column, vectors)


def _pca_basis(keys: jax.Array, patch_size: Shape3, dim: int,
               num_samples: int) -> jax.Array:
  """[P, dim] leading principal directions of sampled key patches.

  P = pt*ph*pw*C in the order (kt, kh, kw, c). Found by subspace iteration
  (products with the covariance, Gram-Schmidt), then a small eigenproblem:
  a full `eigh` of the P x P covariance took 0.1 s to seconds on a busy
  2-core CPU, this a few milliseconds.

  The basis is a function of the keys alone (patches sampled on a fixed
  low-discrepancy sequence, a fixed start for the iteration), not of a random
  key: under `vmap` over noise keys the keys are shared, so one basis and one
  set of key descriptors serve the whole batch (a basis per variation made
  XLA:CPU build a 441-wide patch matrix per variation).
  """
  # A barrier, so that XLA never constant-folds the covariance of keys that
  # are a constant of the program (28 s of compilation when it did).
  keys = jax.lax.optimization_barrier(keys)
  grid = grid_shape(keys.shape[:3], patch_size)
  num = int(np.prod(grid))
  # Golden-ratio (Weyl) sequence over the flat key grid: evenly spread, with
  # no lattice aligned with the rows.
  flat = np.floor(np.modf(np.arange(num_samples) * 0.6180339887498949)[0] *
                  num).astype(np.int32)
  patches = _windows(keys, unravel_index(jnp.asarray(flat), grid), patch_size)
  patches = patches.reshape(num_samples, -1)
  centred = patches - jnp.mean(patches, axis=0, keepdims=True)
  cov = jnp.matmul(centred.T, centred, precision=_HIGHEST)
  size = cov.shape[0]
  width = min(size, dim + _PCA_OVERSAMPLE)
  start = np.random.default_rng(0).standard_normal((size, width))
  basis = jnp.asarray(start, jnp.float32)

  def power(_, basis):
    return _orthonormalize(jnp.matmul(cov, basis, precision=_HIGHEST))

  basis = jax.lax.fori_loop(0, _PCA_ITERATIONS, power, basis)
  small = jnp.matmul(basis.T, jnp.matmul(cov, basis, precision=_HIGHEST),
                     precision=_HIGHEST)
  _, vectors = jnp.linalg.eigh(small)  # ascending eigenvalues
  return jnp.matmul(basis, vectors[:, ::-1][:, :dim], precision=_HIGHEST)


# XLA:CPU's convolution reserves a patch matrix for all its output positions
# (positions x ph*pw*pt*C floats of address space, only partly touched): at
# 49x612x1088 with 3x7x7 patches that is 57 GB, more than a 24 GiB machine
# has, and the allocation failed with std::bad_alloc. Descriptors are made a
# block of frames at a time, each block's matrix at most this large.
_CONV_PATCH_BYTES = 2**32


def _descriptor_frames(video_shape: Sequence[int], patch_size: Shape3) -> int:
  """Frames of patch positions convolved at once (`_CONV_PATCH_BYTES`)."""
  pt, ph, pw = patch_size
  _, height, width, channels = video_shape
  per_frame = ((height - ph + 1) * (width - pw + 1) * ph * pw * pt * channels
               * 4)
  return max(1, _CONV_PATCH_BYTES // per_frame)


def _descriptors(video: jax.Array, basis: jax.Array, patch_size: Shape3,
                 planar: bool = False) -> jax.Array:
  """Projection of every patch on `basis`: [nT*nH*nW, dim], or [dim, ...].

  One 2-D convolution over the `pt` frames of each patch stacked on channels
  (on CPU far cheaper than a 3-D convolution or an unfold), a block of frames
  at a time on long or large videos (`_descriptor_frames`). `planar` asks the
  convolution for the channel-major layout, with no transposed copy.
  """
  pt, ph, pw = patch_size
  channels = video.shape[-1]
  nt = video.shape[0] - pt + 1
  dim = basis.shape[-1]
  kernel = basis.reshape(pt, ph, pw, channels, dim)
  kernel = kernel.transpose(1, 2, 0, 3, 4).reshape(ph, pw, pt * channels, dim)
  out_spec = 'CNHW' if planar else 'NHWC'

  def convolve(frames):  # [n + pt - 1, H, W, C] -> n frames of descriptors
    n = frames.shape[0] - pt + 1
    stacked = jnp.concatenate([frames[i:i + n] for i in range(pt)], axis=-1)
    # XLA:CPU convolves up to 16 output channels directly; more go through a
    # patch matrix (im2col) 441 values per patch: 1.5 GB at 13x288x512.
    return jnp.concatenate([jax.lax.conv_general_dilated(
        stacked, kernel[..., i:i + _CONV_GROUP], window_strides=(1, 1),
        padding='VALID', dimension_numbers=('NHWC', 'HWIO', out_spec),
        precision=_HIGHEST) for i in range(0, dim, _CONV_GROUP)],
                           axis=out_spec.index('C'))

  block = _descriptor_frames(video.shape, patch_size)
  if block >= nt:
    out = convolve(video)
  else:
    axis = out_spec.index('N')
    shape = jax.eval_shape(convolve, video)

    def fill(i, out):
      # The last block is moved back to end at the last frame; the frames it
      # shares with the one before get the same values again.
      start = jnp.minimum(i * block, nt - block)
      frames = jax.lax.dynamic_slice_in_dim(video, start, block + pt - 1)
      return jax.lax.dynamic_update_slice_in_dim(out, convolve(frames),
                                                 start, axis)

    out = jax.lax.fori_loop(0, -(-nt // block), fill,
                            jnp.zeros(shape.shape, shape.dtype))
  return out.reshape(dim, -1) if planar else out.reshape(-1, dim)


class KeyIndex(NamedTuple):
  """What candidates are scored with on the key side: a function of the keys.

  Attributes:
    basis: [pt*ph*pw*C, D] the leading principal directions of key patches.
    descriptors: [D, nTk*nHk*nWk] every key patch projected on them.
  """
  basis: jax.Array
  descriptors: jax.Array


# Level programs that take an index are kept on disk (program_cache.py).
jax.export.register_namedtuple_serialization(
    KeyIndex, serialized_name='vgpnn_jax.patchmatch.KeyIndex')


@functools.partial(jax.jit, static_argnames=('patch_size', 'descriptor_dim',
                                             'num_pca_samples'))
def _key_index(keys, patch_size, descriptor_dim, num_pca_samples):
  keys = keys.astype(jnp.float32)
  basis = _pca_basis(keys, patch_size, descriptor_dim, num_pca_samples)
  # Planar: XLA:CPU gathers scalars from a 1-D array several times faster
  # than rows of a 2-D one.
  return KeyIndex(basis, _descriptors(keys, basis, patch_size, planar=True))


def _descriptor_dim(descriptor_dim: int, patch_size: Shape3,
                    channels: int) -> int:
  if descriptor_dim < 1:
    raise ValueError(f'descriptor_dim must be positive or None, got '
                     f'{descriptor_dim}')
  return min(int(descriptor_dim), int(np.prod(patch_size)) * channels)


def key_index(keys: jax.typing.ArrayLike, *, patch_size: Sequence[int],
              descriptor_dim: int = 16,
              num_pca_samples: int = 4096) -> KeyIndex:
  """The key side of `patchmatch`, to share between searches of one keys video.

  `patchmatch` computes it from the keys on every call: a principal
  component fit and a convolution over the keys (at the finest level of a
  13x144x256 video, 75 ms of a 300 ms search). Searches that reuse one keys
  video (the later iterations of a pyramid level) can compute it once and
  pass it as `patchmatch(..., key_index=...)`, with the same results.

  Args:
    keys: [Tk, Hk, Wk, C] float video.
    patch_size: (pt, ph, pw).
    descriptor_dim: as in `patchmatch`.
    num_pca_samples: as in `patchmatch`.

  Returns:
    A `KeyIndex`.
  """
  keys = jnp.asarray(keys)
  patch_size = _as_ints('patch_size', patch_size, 3)
  if keys.ndim != 4 or any(n < p for n, p in zip(keys.shape[:3], patch_size)):
    raise ValueError(f'expected [T, H, W, C] keys holding a {patch_size} '
                     f'patch, got shape {keys.shape}')
  return _key_index(keys, patch_size,
                    _descriptor_dim(descriptor_dim, patch_size, keys.shape[-1]),
                    int(num_pca_samples))


def key_index_shape(keys_size: Sequence[int], channels: int,
                    patch_size: Sequence[int],
                    descriptor_dim: int = 16) -> KeyIndex:
  """`key_index`'s shapes (ShapeDtypeStructs) for keys of (Tk, Hk, Wk)."""
  patch_size = _as_ints('patch_size', patch_size, 3)
  dim = _descriptor_dim(descriptor_dim, patch_size, channels)
  num_k = int(np.prod(grid_shape(keys_size, patch_size)))
  return KeyIndex(
      jax.ShapeDtypeStruct((int(np.prod(patch_size)) * channels, dim),
                           jnp.float32),
      jax.ShapeDtypeStruct((dim, num_k), jnp.float32))


def _blocked(fn, num: int, block: int, *arrays: jax.Array):
  """`fn(positions [block], *array_blocks)` over blocks of `num` positions.

  Arrays are [num, ...] and are read in place (no padded copies): the last
  block starts at num - block, overlapping the one before it, and only its
  new rows are kept. Outputs are pytrees of [block, ...], concatenated to
  [num, ...]. Requires block <= num.
  """
  num_blocks = -(-num // block)

  def run(index):
    start = jnp.minimum(index * block, num - block)
    positions = start + jnp.arange(block, dtype=jnp.int32)
    blocks = [jax.lax.dynamic_slice_in_dim(x, start, block) for x in arrays]
    if block % sharding.query_devices() == 0:
      # Under `sharding.spread_queries` each device scores its share.
      positions, *blocks = map(sharding.constrain_queries,
                               [positions, *blocks])
    return fn(positions, *blocks)

  out = jax.lax.map(run, jnp.arange(num_blocks, dtype=jnp.int32))
  fresh = num - (num_blocks - 1) * block  # rows of the last block not seen

  def assemble(o):
    return jnp.concatenate([o[:-1].reshape((-1,) + o.shape[2:]),
                            o[-1, block - fresh:]])

  return jax.tree.map(assemble, out)


@functools.partial(
    jax.jit,
    static_argnames=('patch_size', 'steps', 'radii', 'num_passes',
                     'descriptor_dim', 'num_pca_samples', 'block_size'))
def _patchmatch(key, queries, keys, init_field, first_step, index, key_valid,
                patch_size, steps, radii, num_passes, descriptor_dim,
                num_pca_samples, block_size):
  queries = queries.astype(jnp.float32)
  keys = keys.astype(jnp.float32)
  q_grid = grid_shape(queries.shape[:3], patch_size)
  k_grid = grid_shape(keys.shape[:3], patch_size)
  num_q = int(np.prod(q_grid))
  num_k = int(np.prod(k_grid))
  exact = descriptor_dim is None

  key_init, key_hash = jax.random.split(key)
  seed = jax.random.bits(key_hash, (), jnp.uint32)

  if key_valid is None:
    penalty = None
    draw = lambda bits: (bits % jnp.uint32(num_k)).astype(jnp.int32)
  else:
    # Random corners come from the compacted list of valid keys; +inf on
    # the others rejects every candidate that lands there.
    key_valid = key_valid.reshape(num_k)
    penalty = jnp.where(key_valid, 0.0, jnp.inf).astype(jnp.float32)
    valid_ids = compact(key_valid, num_k)
    num_valid = jnp.maximum(jnp.sum(key_valid, dtype=jnp.uint32), 1)
    draw = lambda bits: _take(valid_ids,
                              (bits % num_valid).astype(jnp.int32))

  # The field is kept as flat key-grid indices [num_q]. Unconstrained
  # searches keep `randint`, so that their starts are those of before.
  if key_valid is None:
    random_start = jax.random.randint(key_init, (num_q,), 0, num_k, jnp.int32)
  else:
    random_start = draw(jax.random.bits(key_init, (num_q,), jnp.uint32))
  if init_field is None:
    field = random_start
  else:
    start = init_field.astype(jnp.int32).reshape(num_q, 3)
    start = ravel_index(
        _clip((start[:, 0], start[:, 1], start[:, 2]), k_grid), k_grid)
    if key_valid is not None:
      start = jnp.where(_take(key_valid, start), start, random_start)
    field = start

  exact_ssd = functools.partial(_exact_ssd, queries, keys, patch_size)

  if exact:
    # Every candidate gathers a whole patch: smaller blocks bound memory.
    block = max(1, min(block_size // 16, num_q))
    q_desc = jnp.zeros((num_q, 0), jnp.float32)

    def score(q_pos, q_d, cands):
      del q_d
      dist = exact_ssd(q_pos, cands)
      return dist if penalty is None else dist + _take(penalty, cands)
  else:
    block = max(1, min(block_size, num_q))
    if index is None:
      index = _key_index(keys, patch_size, descriptor_dim, num_pca_samples)
    q_desc = _descriptors(queries, index.basis, patch_size)  # [num_q, D]
    k_desc = index.descriptors  # [D, num_k]

    def score(q_pos, q_d, cands):
      """[B], [B, D], [B, K] flat key corners -> [B, K] descriptor SSD."""
      del q_pos
      total = (jnp.zeros(cands.shape, jnp.float32) if penalty is None else
               _take(penalty, cands))
      for d in range(k_desc.shape[0]):
        total = total + jnp.square(_take(k_desc[d], cands) - q_d[:, d, None])
      return total

  # The (up to) 6 axis directions, as [M, 3] unit offsets (size-1 axes of the
  # query grid are skipped).
  directions = np.array([[sign * (a == axis) for a in range(3)]
                         for axis in range(3) if q_grid[axis] > 1
                         for sign in (1, -1)], np.int32).reshape(-1, 3)
  num_dirs = directions.shape[0]
  q_limit = jnp.asarray(q_grid, jnp.int32)[None, None, :] - 1
  k_limit = jnp.asarray(k_grid, jnp.int32)[None, None, :] - 1
  # Per jittered candidate, a constant added to the hash; per coordinate, the
  # byte of the hash that gives its offset.
  salts = jnp.asarray((np.arange(1, num_dirs + 2) * 0x9E3779B9) % 2**32,
                      jnp.uint32)[None, :]
  byte_shifts = jnp.asarray([0, 8, 16], jnp.uint32)[None, None, :]
  steps_arr = jnp.asarray(steps, jnp.int32)
  radii_arr = jnp.asarray(radii, jnp.int32)

  def jump_flood(i, field):
    phase = i % len(steps)
    step = steps_arr[phase]
    radius = radii_arr[phase]
    span = (2 * radius + 1).astype(jnp.uint32)
    salt = _hash(seed ^ _hash(i.astype(jnp.uint32)))
    axis_steps = jnp.minimum(step, q_limit)  # [1, 1, 3]
    offsets = jnp.asarray(directions)[None] * axis_steps  # [1, M, 3]

    def update(q_pos, q_d):
      current = _take(field, q_pos)
      pos = jnp.stack(unravel_index(q_pos, q_grid), axis=-1)[:, None, :]
      # Each neighbour's match, shifted back by the neighbour's offset.
      neighbours = jnp.clip(pos + offsets, 0, q_limit)  # [B, M, 3]
      matches = _take(field,
                      ravel_index(jnp.unstack(neighbours, axis=-1), q_grid))
      shifted = (jnp.stack(unravel_index(matches, k_grid), axis=-1) -
                 (neighbours - pos))
      own = jnp.stack(unravel_index(current, k_grid), axis=-1)[:, None, :]
      base = _hash(q_pos.astype(jnp.uint32) ^ salt)
      # One uniformly random corner at the first step of each pass (a random
      # read costs as much as all the other candidates together), else the
      # current match again.
      uniform = jnp.where(phase == 0, draw(base), current)
      uniform = jnp.stack(unravel_index(uniform, k_grid), axis=-1)[:, None, :]
      centres = jnp.concatenate([own, shifted], axis=1)  # [B, M+1, 3]
      bits = _hash(base[:, None] + salts)[..., None]  # [B, M+1, 1]
      jitter = (((bits >> byte_shifts) & jnp.uint32(255)) * span >> 8).astype(
          jnp.int32) - radius
      cands = jnp.concatenate([uniform, shifted, centres + jitter], axis=1)
      cands = ravel_index(
          jnp.unstack(jnp.clip(cands, 0, k_limit), axis=-1), k_grid)
      # The current match first: kept on ties, and scored here rather than
      # carried (one pass and one loop fewer to compile).
      cands = jnp.concatenate([current[:, None], cands], axis=1)  # [B, K]
      cand_dist = score(q_pos, q_d, cands)
      best_dist = jnp.min(cand_dist, axis=1)
      # First index at the minimum (argmin is slow on XLA:CPU).
      first = jnp.min(jnp.where(cand_dist == best_dist[:, None],
                                jnp.arange(cands.shape[1])[None, :],
                                cands.shape[1]), axis=1)
      return jnp.take_along_axis(cands, first[:, None], axis=1)[:, 0]

    return _blocked(update, num_q, block, q_desc)

  field = jax.lax.fori_loop(first_step, num_passes * len(steps), jump_flood,
                            field)

  # Whole patches per query: smaller blocks stay in cache.
  block = max(1, min(block_size // 8, num_q))
  if not exact and init_field is not None:
    field = _keep_better_start(patch_size, block)(queries, keys, field, start)
  # Callers that drop the distances (the generation) never run this.
  dist = _blocked(lambda p, f: exact_ssd(p, f[:, None])[:, 0], num_q, block,
                  field)
  field = jnp.stack(unravel_index(field, k_grid), axis=-1)
  return field.reshape(q_grid + (3,)), dist.reshape(q_grid)


def _exact_ssd(queries: jax.Array, keys: jax.Array, patch_size: Shape3,
               q_pos: jax.Array, cands: jax.Array) -> jax.Array:
  """[B] query positions, [B, K] flat key corners -> [B, K] exact SSD."""
  q_grid = grid_shape(queries.shape[:3], patch_size)
  k_grid = grid_shape(keys.shape[:3], patch_size)
  q = _windows(queries, unravel_index(q_pos, q_grid), patch_size)
  k = _windows(keys, unravel_index(cands, k_grid), patch_size)
  return jnp.sum(jnp.square(k - q[:, None]), axis=(2, 3, 4))


@functools.lru_cache(maxsize=None)
def _keep_better_start(patch_size: Shape3, block: int):
  """`fn(queries, keys, field, start)`: per query, the exactly nearer match.

  Scoring on descriptors may trade an exactly better match for a worse one:
  this never returns a match worse than the one given. Only the queries whose
  match moved are scored, in compacted blocks: after a level's first
  iteration that is 3-13% of them. Batched by a loop rather than by `vmap`
  (`sharding.loop_over_batch`): under `vmap` a loop whose length depends on
  the data selects the whole field at every block.

  The returned function takes [Tq, Hq, Wq, C] queries, [Tk, Hk, Wk, C] keys,
  and [num_q] flat key corners found by the search (`field`) and started from
  (`start`); it returns [num_q] flat key corners.
  """

  @sharding.loop_over_batch
  def keep_better_start(queries, keys, field, start):

    def nearer(q_pos):
      both = jnp.stack([_take(field, q_pos), _take(start, q_pos)], axis=1)
      both_dist = _exact_ssd(queries, keys, patch_size, q_pos, both)
      return jnp.where(both_dist[:, 1] < both_dist[:, 0], both[:, 1],
                       both[:, 0])

    return set_where(field != start, nearer, field, block)

  return keep_better_start


def _as_ints(name: str, values, length: int | None = None) -> tuple[int, ...]:
  values = tuple(int(v) for v in values)
  if length is not None and len(values) != length:
    raise ValueError(f'{name} must have {length} entries, got {values}')
  return values


def patchmatch(
    key: jax.Array,
    queries: jax.typing.ArrayLike,
    keys: jax.typing.ArrayLike,
    *,
    patch_size: Sequence[int],
    init_field: jax.typing.ArrayLike | None = None,
    steps: Sequence[int] = DEFAULT_STEPS,
    radii: Sequence[int] = DEFAULT_RADII,
    num_passes: int | None = None,
    first_step: int | jax.Array = 0,
    descriptor_dim: int | None = 16,
    num_pca_samples: int = 4096,
    block_size: int = 8192,
    key_index: KeyIndex | None = None,
    key_valid: jax.typing.ArrayLike | None = None,
) -> tuple[jax.Array, jax.Array]:
  """Approximate nearest key patch of every query patch (PatchMatch).

  Args:
    key: a JAX random key; the same key gives the same result.
    queries: [Tq, Hq, Wq, C] float video.
    keys: [Tk, Hk, Wk, C] float video (its size may differ from `queries`).
    patch_size: (pt, ph, pw), at most the size of both videos.
    init_field: optional [Tq-pt+1, Hq-ph+1, Wq-pw+1, 3] int starting field
      (e.g. the previous iteration's, or `upscale_field` of the coarser
      level's); clipped to valid corners. Random when None. The result is
      never worse, query by query, than this field.
    steps: jump distances of one pass, clipped to each axis of the grid.
    radii: jitter radius used with each step (same length as `steps`).
    num_passes: how many times the steps repeat (0 returns the start field);
      by default 2 from a random start, 1 from `init_field`.
    first_step: the first pass starts at this index into `steps` (the one
      random candidate of a pass comes at index 0). It may be a traced int:
      one compiled program serves a full pass and a short one (e.g. only the
      last step, to refine a field that is already good).
    descriptor_dim: candidates are scored on this many principal components
      of the patches (at most the patch length); None scores them exactly.
    num_pca_samples: key patches sampled to fit the principal components.
    block_size: queries processed at once (bounds memory).
    key_index: optional `key_index(keys, ...)` with the same `patch_size`,
      `descriptor_dim` and `num_pca_samples`, computed once for several
      searches of the same keys; the same results, sooner.
    key_valid: optional [Tk-pt+1, Hk-ph+1, Wk-pw+1] bool: only key patches
      where it is True are proposed and kept (a start on an invalid key is
      redrawn among the valid ones). At least one must be True.

  Returns:
    field: [Tq-pt+1, Hq-ph+1, Wq-pw+1, 3] int32, for every query patch the
      (t, h, w) corner of its key patch (0 <= t <= Tk-pt, etc.).
    sq_dist: [Tq-pt+1, Hq-ph+1, Wq-pw+1] float32, the exact sum of squared
      differences between each query patch and its key patch.
  """
  queries = jnp.asarray(queries)
  keys = jnp.asarray(keys)
  if queries.ndim != 4 or keys.ndim != 4:
    raise ValueError(f'expected [T, H, W, C] queries and keys, got shapes '
                     f'{queries.shape} and {keys.shape}')
  if queries.shape[-1] != keys.shape[-1]:
    raise ValueError(f'queries and keys must have the same channels, got '
                     f'{queries.shape} and {keys.shape}')
  patch_size = _as_ints('patch_size', patch_size, 3)
  if min(patch_size) < 1:
    raise ValueError(f'patch_size must be positive, got {patch_size}')
  for name, video in (('queries', queries), ('keys', keys)):
    if any(n < p for n, p in zip(video.shape[:3], patch_size)):
      raise ValueError(f'{name} of shape {video.shape} are smaller than the '
                       f'patch {patch_size}')
  steps = _as_ints('steps', steps)
  radii = _as_ints('radii', radii, len(steps))
  if not steps or min(steps) < 1 or min(radii) < 0 or max(radii) > 127:
    raise ValueError(f'steps must be positive and radii in [0, 127], got '
                     f'{steps} and {radii}')
  if num_passes is None:
    num_passes = 2 if init_field is None else 1
  if num_passes < 0:
    raise ValueError(f'num_passes must be >= 0, got {num_passes}')
  if descriptor_dim is not None:
    descriptor_dim = _descriptor_dim(descriptor_dim, patch_size,
                                     queries.shape[-1])
  if key_index is not None:
    if descriptor_dim is None:
      raise ValueError('key_index scores on descriptors: it needs a '
                       'descriptor_dim, not None')
    want = key_index_shape(keys.shape[:3], keys.shape[-1], patch_size,
                           descriptor_dim)
    got = [(getattr(x, 'shape', None), getattr(x, 'dtype', None))
           for x in key_index]
    if got != [(x.shape, x.dtype) for x in want]:
      raise ValueError(
          f'key_index must come from key_index(keys, patch_size={patch_size}, '
          f'descriptor_dim={descriptor_dim}), with shapes and dtypes '
          f'{[(x.shape, x.dtype) for x in want]}; got {got}')
  if num_pca_samples < 1 or block_size < 1:
    raise ValueError(f'num_pca_samples and block_size must be positive, got '
                     f'{num_pca_samples} and {block_size}')
  q_grid = grid_shape(queries.shape[:3], patch_size)
  if init_field is not None:
    init_field = jnp.asarray(init_field)
    if init_field.shape != q_grid + (3,):
      raise ValueError(f'init_field must have shape {q_grid + (3,)}, got '
                       f'{init_field.shape}')
  if not isinstance(first_step, jax.Array) and not (
      0 <= int(first_step) <= len(steps)):
    raise ValueError(f'first_step must be in [0, {len(steps)}], got '
                     f'{first_step}')
  first_step = jnp.asarray(first_step, jnp.int32)
  if key_valid is not None:
    key_valid = jnp.asarray(key_valid)
    k_grid = grid_shape(keys.shape[:3], patch_size)
    if key_valid.shape != k_grid or key_valid.dtype != jnp.bool_:
      raise ValueError(f'key_valid must be a {k_grid} bool array (one per key '
                       f'patch), got {key_valid.shape} {key_valid.dtype}')
  return _patchmatch(key, queries, keys, init_field, first_step, key_index,
                     key_valid, patch_size, steps, radii, int(num_passes),
                     descriptor_dim, int(num_pca_samples), int(block_size))


def upscale_field(
    field: jax.typing.ArrayLike,
    shape: tuple[Sequence[int], Sequence[int]],
    *,
    source_key_grid: Sequence[int] | None = None,
    crops: tuple[tuple[Sequence[int], Sequence[int]],
                 tuple[Sequence[int], Sequence[int]]] | None = None,
    frames: tuple[jax.typing.ArrayLike, int] | None = None,
) -> jax.Array:
  """Carries a field from a coarser level to a finer one.

  Each fine query corner takes the match of the nearest coarse query corner
  (positions scaled by the ratio of the query grid sizes), scaled by the ratio
  of the key grid sizes, plus its own offset from that coarse corner (so that
  neighbouring fine queries get neighbouring matches), clipped to valid
  corners. Sizes are compared cell-centre to cell-centre.

  Args:
    field: [nT, nH, nW, 3] int field on the coarse query grid.
    shape: (fine query grid shape, fine key grid shape), each (nT, nH, nW).
    source_key_grid: the coarse key grid shape; by default the same as the
      coarse query grid (keys and queries of one size at that level).
    crops: optional ((fine origin, fine full query grid), (coarse origin,
      coarse full query grid)) when both query grids are crops of larger
      ones (an inpainting searches only around its hole): positions are
      scaled between the full grids. By default each grid is its own full
      grid at origin 0.
    frames: optional (first, count): only the fine query corners of frames
      `first` to `first + count` (a temporal window's, `first` may be
      traced), made without the rest: equal to those frames of the whole.

  Returns:
    [*fine query grid, 3] int32 field pointing into the fine key grid
    ([count, nH, nW, 3] with `frames`).
  """
  field = jnp.asarray(field)
  if field.ndim != 4 or field.shape[-1] != 3:
    raise ValueError(f'expected a [nT, nH, nW, 3] field, got {field.shape}')
  if len(shape) != 2:
    raise ValueError(f'shape must be (query grid, key grid), got {shape}')
  q_fine = _as_ints('query grid', shape[0], 3)
  k_fine = _as_ints('key grid', shape[1], 3)
  q_coarse = tuple(field.shape[:3])
  k_coarse = q_coarse if source_key_grid is None else _as_ints(
      'source_key_grid', source_key_grid, 3)
  if min(q_fine + k_fine + k_coarse) < 1:
    raise ValueError(f'grid shapes must be positive, got {shape} and '
                     f'{k_coarse}')
  if crops is None:
    crops = (((0, 0, 0), q_fine), ((0, 0, 0), q_coarse))
  crops = tuple((_as_ints('crop origin', origin, 3), _as_ints('full grid',
                                                               full, 3))
                for origin, full in crops)
  if frames is None:
    first, count = 0, None
  else:
    first, count = frames
    if not 1 <= int(count) <= q_fine[0]:
      raise ValueError(f'frames count must be in [1, {q_fine[0]}], got '
                       f'{count}')
    count = int(count)
  return _upscale_field(field.astype(jnp.int32), q_fine, k_fine, k_coarse,
                        crops, jnp.asarray(first, jnp.int32), count)


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4, 6))
def _upscale_field(field, q_fine, k_fine, k_coarse, crops, first, count):
  q_coarse = field.shape[:3]
  (fine_origin, fine_full), (coarse_origin, coarse_full) = crops
  coarse_index = []
  residual = []
  for a in range(3):
    # Fine cell centre in the coarse crop's cell units.
    u = ((fine_origin[a] + np.arange(q_fine[a]) + 0.5) *
         (coarse_full[a] / fine_full[a]) - 0.5 - coarse_origin[a])
    c = np.clip(np.round(u), 0, q_coarse[a] - 1).astype(np.int32)
    coarse_index.append(c)
    residual.append((u - c).astype(np.float32))
  if count is None:
    gathered = field[np.ix_(*coarse_index)]  # [*q_fine, 3]
  else:
    # A window of the fine frames: their rows of the tables, then the gather.
    coarse_index[0], residual[0] = (
        jax.lax.dynamic_slice_in_dim(jnp.asarray(table), first, count)
        for table in (coarse_index[0], residual[0]))
    gathered = jnp.take(field, coarse_index[0], axis=0)
    gathered = gathered[:, coarse_index[1]][:, :, coarse_index[2]]
  out = []
  for a in range(3):
    shape = [1, 1, 1]
    shape[a] = gathered.shape[a]
    res = jnp.asarray(residual[a], jnp.float32).reshape(shape)
    scale = k_fine[a] / k_coarse[a]
    coord = (gathered[..., a].astype(jnp.float32) + res + 0.5) * scale - 0.5
    out.append(jnp.clip(jnp.round(coord), 0, k_fine[a] - 1).astype(jnp.int32))
  return jnp.stack(out, axis=-1)
