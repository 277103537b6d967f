"""Unfolding a video into patches and folding patches back into a video.

A patch of size (pt, ph, pw) at corner (t, h, w) covers frames t..t+pt-1, rows
h..h+ph-1 and columns w..w+pw-1. Unfolded patches are flat vectors ordered
(kt, kh, kw, c), c fastest. Folding combines, for every voxel, the values that
all patches covering it propose: the **median** (the video default; the lower
middle value for an even count, as torch does) or the **mean**.

Two folds share one implementation: `fold` takes an array of patch vectors;
`fold_field` takes a nearest-neighbour field (for every output patch, the
corner of a patch in a values video) and never unfolds anything, so its memory
is bounded by `block_voxels` times the patch volume, whatever the video size.
"""

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

PatchSize = tuple[int, int, int]

REDUCTIONS = ('median', 'mean')

# Values gathered per block of the fold: `block_voxels` x patch volume; with the
# default and a 3x7x7 patch about 150 MB of float32 at most.
_DEFAULT_BLOCK_VOXELS = 1 << 18


def grid_shape(size: Sequence[int], patch_size: Sequence[int]) -> PatchSize:
  """Number of patch corners along each axis of a (T, H, W) video."""
  return tuple(int(n) - int(p) + 1 for n, p in zip(size, patch_size))


def _check_patch(size: Sequence[int], patch_size: Sequence[int]) -> PatchSize:
  patch_size = tuple(int(p) for p in patch_size)
  if len(patch_size) != 3 or min(patch_size) < 1:
    raise ValueError(f'patch_size must be 3 positive ints, got {patch_size}')
  if any(n < p for n, p in zip(size, patch_size)):
    raise ValueError(f'video of size {tuple(size)} is smaller than the patch '
                     f'{patch_size}')
  return patch_size


def patch_offsets(patch_size: Sequence[int]) -> np.ndarray:
  """[P, 3] int offsets (dt, dh, dw) of the voxels of a patch, in unfold order."""
  grids = np.meshgrid(*[np.arange(p) for p in patch_size], indexing='ij')
  return np.stack([g.ravel() for g in grids], axis=1).astype(np.int32)


@functools.partial(jax.jit, static_argnames='patch_size')
def _unfold(video: jax.Array, patch_size: PatchSize) -> jax.Array:
  nt, nh, nw = grid_shape(video.shape[:3], patch_size)
  pt, ph, pw = patch_size
  # Shifted slices, one axis at a time (pt + ph + pw slices, not pt*ph*pw):
  # 5x faster than conv_general_dilated_patches on CPU (DESIGN §5) and quick
  # to compile.
  x = jnp.stack([video[:, :, d:d + nw] for d in range(pw)], axis=3)
  x = jnp.stack([x[:, d:d + nh] for d in range(ph)], axis=3)
  x = jnp.stack([x[d:d + nt] for d in range(pt)], axis=3)
  return x.reshape(nt, nh, nw, -1)  # [nT, nH, nW, pt, ph, pw, C] flattened


def unfold(video: jax.typing.ArrayLike,
           patch_size: Sequence[int]) -> jax.Array:
  """Every patch of a video, as flat vectors.

  Args:
    video: [T, H, W, C] array.
    patch_size: (pt, ph, pw).

  Returns:
    [T-pt+1, H-ph+1, W-pw+1, pt*ph*pw*C] patches, features ordered
    (kt, kh, kw, c).
  """
  video = jnp.asarray(video)
  if video.ndim != 4:
    raise ValueError(f'expected a [T, H, W, C] video, got shape {video.shape}')
  return _unfold(video, _check_patch(video.shape[:3], patch_size))


def _lower_median(values: jax.Array, rank: jax.Array) -> jax.Array:
  """Exact `rank`-th smallest value along axis 0, by bisection on the bits.

  Sorting 147 values per voxel is slow on XLA:CPU; 32 rounds of counting on
  order-preserving integer keys select the exact value instead.

  Args:
    values: [P, N] float32; missing entries are +inf.
    rank: [N] int32, the 0-based rank wanted (below the count of finite ones).

  Returns:
    [N] float32, the exact value of that rank.
  """
  bits = jax.lax.bitcast_convert_type(values, jnp.int32)
  # Order-preserving map float32 -> uint32: flip all bits of negatives, set the
  # sign bit of positives.
  keys = jnp.where(bits < 0, ~bits, bits | jnp.int32(-2**31))
  keys = jax.lax.bitcast_convert_type(keys, jnp.uint32)
  lo = jnp.min(keys, axis=0)
  hi = jnp.max(keys, axis=0)
  target = rank + 1

  def step(_, bounds):
    lo, hi = bounds
    mid = lo + (hi - lo) // 2
    enough = jnp.sum(keys <= mid[None], axis=0, dtype=jnp.int32) >= target
    return jnp.where(enough, lo, mid + 1), jnp.where(enough, mid, hi)

  _, hi = jax.lax.fori_loop(0, 32, step, (lo, hi))
  bits = jax.lax.bitcast_convert_type(hi, jnp.int32)
  bits = jnp.where(bits < 0, bits & jnp.int32(2**31 - 1), ~bits)
  return jax.lax.bitcast_convert_type(bits, jnp.float32)


def _fold_gather(base: jax.Array, delta: jax.Array, values: jax.Array,
                 out_size: tuple[int, int, int], patch_size: PatchSize,
                 reduce: str, block_voxels: int) -> jax.Array:
  """Folds patches whose values are `values[base[corner] + delta[offset]]`.

  Args:
    base: [nT, nH, nW] int32, per patch corner, a flat row index into `values`.
    delta: [P] int32, per patch offset, added to `base`.
    values: [N, C] the flat values the indices point into.
    out_size: (T, H, W) output size; (nT, nH, nW) = T-pt+1, ...
    patch_size: (pt, ph, pw).
    reduce: 'median' or 'mean'.
    block_voxels: output voxels handled together (bounds memory).

  Returns:
    [T, H, W, C] the folded video.
  """
  nt, nh, nw = base.shape
  frames, height, width = out_size
  channels = values.shape[-1]
  offsets = jnp.asarray(patch_offsets(patch_size))  # [P, 3]
  rows_per_block = max(1, min(frames * height, block_voxels // width))
  num_rows = frames * height
  num_blocks = -(-num_rows // rows_per_block)
  row_ids = jnp.arange(num_blocks * rows_per_block, dtype=jnp.int32)
  row_blocks = row_ids.reshape(num_blocks, rows_per_block)
  cols = jnp.arange(width, dtype=jnp.int32)

  def fold_block(rows):  # rows: [R] flat (t, h) output row ids
    t = (rows // height)[None, :, None] - offsets[:, 0, None, None]
    h = (rows % height)[None, :, None] - offsets[:, 1, None, None]
    w = cols[None, None, :] - offsets[:, 2, None, None]  # [P, 1, W]
    valid = ((t >= 0) & (t < nt) & (h >= 0) & (h < nh) & (w >= 0) & (w < nw))
    valid = valid & (rows < num_rows)[None, :, None]  # [P, R, W]
    corner = base[jnp.clip(t, 0, nt - 1), jnp.clip(h, 0, nh - 1),
                  jnp.clip(w, 0, nw - 1)]
    gathered = values[corner + delta[:, None, None]]  # [P, R, W, C]
    count = jnp.sum(valid, axis=0, dtype=jnp.int32)  # [R, W]
    if reduce == 'mean':
      total = jnp.sum(jnp.where(valid[..., None], gathered, 0), axis=0)
      return total / jnp.maximum(count, 1)[..., None].astype(total.dtype)
    gathered = jnp.where(valid[..., None], gathered, jnp.inf)
    rank = jnp.maximum(count - 1, 0) // 2
    flat = gathered.reshape(gathered.shape[0], -1).astype(jnp.float32)
    rank = jnp.broadcast_to(rank[..., None], count.shape + (channels,))
    median = _lower_median(flat, rank.reshape(-1))
    return median.reshape(count.shape + (channels,)).astype(values.dtype)

  folded = jax.lax.map(fold_block, row_blocks)  # [blocks, R, W, C]
  folded = folded.reshape(-1, width, channels)[:num_rows]
  return folded.reshape(frames, height, width, channels)


def _check_reduce(reduce: str) -> None:
  if reduce not in REDUCTIONS:
    raise ValueError(f'reduce must be one of {REDUCTIONS}, got {reduce!r}')


@functools.partial(jax.jit,
                   static_argnames=('patch_size', 'reduce', 'block_voxels'))
def _fold(patches, patch_size, reduce, block_voxels):
  nt, nh, nw, features = patches.shape
  volume = int(np.prod(patch_size))
  channels = features // volume
  out_size = (nt + patch_size[0] - 1, nh + patch_size[1] - 1,
              nw + patch_size[2] - 1)
  # Row q * P + p of `values` is the value patch q proposes at its offset p.
  values = patches.reshape(-1, channels)
  base = (jnp.arange(nt * nh * nw, dtype=jnp.int32) * volume).reshape(nt, nh,
                                                                     nw)
  delta = jnp.arange(volume, dtype=jnp.int32)
  return _fold_gather(base, delta, values, out_size, patch_size, reduce,
                      block_voxels)


def fold(patches: jax.typing.ArrayLike,
         patch_size: Sequence[int],
         *,
         reduce: str = 'median',
         block_voxels: int = _DEFAULT_BLOCK_VOXELS) -> jax.Array:
  """Folds a field of patches back into a video.

  Args:
    patches: [nT, nH, nW, pt*ph*pw*C] patch vectors ordered as by `unfold`.
    patch_size: (pt, ph, pw).
    reduce: how each voxel combines the values of the patches covering it:
      'median' (lower median for an even count) or 'mean'.
    block_voxels: output voxels processed at once; bounds memory.

  Returns:
    [nT+pt-1, nH+ph-1, nW+pw-1, C] video.
  """
  patches = jnp.asarray(patches)
  _check_reduce(reduce)
  patch_size = tuple(int(p) for p in patch_size)
  volume = int(np.prod(patch_size))
  if patches.ndim != 4 or patches.shape[-1] % volume:
    raise ValueError(f'expected [nT, nH, nW, {volume}*C] patches, got '
                     f'{patches.shape}')
  return _fold(patches, patch_size, reduce, int(block_voxels))


@functools.partial(
    jax.jit, static_argnames=('out_size', 'patch_size', 'reduce',
                              'block_voxels'))
def _fold_field(field, values, out_size, patch_size, reduce, block_voxels):
  _, vh, vw, channels = values.shape
  corners = (field[..., 0] * vh + field[..., 1]) * vw + field[..., 2]
  offsets = patch_offsets(patch_size)
  delta = jnp.asarray((offsets[:, 0] * vh + offsets[:, 1]) * vw +
                      offsets[:, 2], jnp.int32)
  return _fold_gather(corners.astype(jnp.int32), delta,
                      values.reshape(-1, channels), out_size, patch_size,
                      reduce, block_voxels)


def fold_field(field: jax.typing.ArrayLike,
               values: jax.typing.ArrayLike,
               patch_size: Sequence[int],
               *,
               reduce: str = 'median',
               block_voxels: int = _DEFAULT_BLOCK_VOXELS) -> jax.Array:
  """Folds the value patches a nearest-neighbour field points to.

  Equivalent to `fold(unfold(values)[field[..., 0], field[..., 1],
  field[..., 2]])` without unfolding anything.

  Args:
    field: [nT, nH, nW, 3] int, for every output patch the (t, h, w) corner of
      its patch in `values`.
    values: [Tv, Hv, Wv, C] the video the patches are taken from.
    patch_size: (pt, ph, pw).
    reduce: 'median' or 'mean', as in `fold`.
    block_voxels: output voxels processed at once; bounds memory.

  Returns:
    [nT+pt-1, nH+ph-1, nW+pw-1, C] video.
  """
  field = jnp.asarray(field)
  values = jnp.asarray(values)
  _check_reduce(reduce)
  patch_size = _check_patch(values.shape[:3], patch_size)
  if field.ndim != 4 or field.shape[-1] != 3:
    raise ValueError(f'expected a [nT, nH, nW, 3] field, got {field.shape}')
  out_size = tuple(n + p - 1 for n, p in zip(field.shape[:3], patch_size))
  return _fold_field(field.astype(jnp.int32), values, out_size, patch_size,
                     reduce, int(block_voxels))
