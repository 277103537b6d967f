"""Masks through the pyramid: holes that never shrink, valid patches, fills.

A mask is a `[T, H, W]` bool array; True marks the hole (the region to fill or
edit). Resized to a pyramid level, a voxel is in the hole if **any** input
voxel that the level's resize draws on (a tap of the antialiased Keys cubic
kernel with a positive weight, `resampling.resize_taps`) is: a hole grows a
little at the coarse levels and never vanishes there. The kernel's negative
side lobes are left out: they hold at most 7% of its weight, and counting
them doubled the growth, which at the coarse levels left an inpainting too
few patches outside the hole to fill it with (its fill turned flat grey).

    level_hole = masks.resize_mask(hole, (t, h, w))
    valid = masks.valid_patches(level_hole, (3, 7, 7))   # patches outside it
    start = masks.fill_hole(video, hole)                 # a smooth first guess
    out = masks.blend_seams(fill, hole)                  # no step at the border
    person = masks.foreground(video, box)      # a tight cut-out (static camera)
    region = masks.dilate(person, 4)           # and a margin around it

Everything is jittable; shapes are static.
"""

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from vgpnn_jax import resampling


def _resize_mask_axis(mask: jax.Array, axis: int, out_size: int) -> jax.Array:
  indices, weights = resampling.resize_taps(mask.shape[axis], out_size)
  mask = jnp.moveaxis(mask, axis, 0)
  expand = (slice(None),) + (None,) * (mask.ndim - 1)
  out = jnp.zeros((out_size,) + mask.shape[1:], jnp.bool_)
  # A tap draws on its input voxel where its weight is positive: the
  # kernel's main lobe (its zero crossings land on samples when the size is
  # kept). The negative side lobes, which hold at most 7% of the weight,
  # would widen the hole by as much again.
  for tap in range(indices.shape[1]):
    used = jnp.asarray(weights[:, tap] > 0)[expand]
    out = out | (jnp.take(mask, jnp.asarray(indices[:, tap]), axis=0) & used)
  return jnp.moveaxis(out, 0, axis)


@functools.partial(jax.jit, static_argnames='size')
def _resize_mask(mask: jax.Array, size: tuple[int, int, int]) -> jax.Array:
  for axis in range(3):
    if size[axis] != mask.shape[axis]:
      mask = _resize_mask_axis(mask, axis, size[axis])
  return mask


def resize_mask(mask: jax.typing.ArrayLike, size: Sequence[int]) -> jax.Array:
  """The hole as seen by a video resized to `size` (any voxel drawn on).

  Args:
    mask: [T, H, W] bool (nonzero = hole).
    size: (T', H', W').

  Returns:
    [T', H', W'] bool: True where `resampling.resize` of a video to `size`
    reads any voxel of the hole with a positive weight.
  """
  mask = jnp.asarray(mask)
  if mask.ndim != 3:
    raise ValueError(f'expected a [T, H, W] mask, got shape {mask.shape}')
  size = tuple(int(s) for s in size)
  if len(size) != 3 or min(size) < 1:
    raise ValueError(f'size must be 3 positive ints, got {size}')
  return _resize_mask(mask.astype(jnp.bool_), size)


@functools.partial(jax.jit, static_argnames='patch_size')
def _valid_patches(mask, patch_size):
  covered = jax.lax.reduce_window(mask.astype(jnp.float32), -jnp.inf,
                                  jax.lax.max, patch_size, (1, 1, 1), 'VALID')
  return covered <= 0


def valid_patches(mask: jax.typing.ArrayLike,
                  patch_size: Sequence[int]) -> jax.Array:
  """Which patches lie wholly outside the hole.

  Args:
    mask: [T, H, W] bool, True in the hole.
    patch_size: (pt, ph, pw), at most the mask's size.

  Returns:
    [T-pt+1, H-ph+1, W-pw+1] bool, indexed by patch corner: True where no
    voxel of the patch is in the hole.
  """
  mask = jnp.asarray(mask)
  patch_size = tuple(int(p) for p in patch_size)
  if mask.ndim != 3 or any(n < p for n, p in zip(mask.shape, patch_size)):
    raise ValueError(f'expected a [T, H, W] mask holding a {patch_size} '
                     f'patch, got shape {mask.shape}')
  return _valid_patches(mask.astype(jnp.bool_), patch_size)


def _halve(x: jax.Array, axis: int) -> jax.Array:
  """Sums pairs of samples along `axis` (the last one alone if odd)."""
  x = jnp.moveaxis(x, axis, 0)
  if x.shape[0] % 2:
    x = jnp.concatenate([x, jnp.zeros_like(x[:1])])
  x = x[0::2] + x[1::2]
  return jnp.moveaxis(x, 0, axis)


def _double(x: jax.Array, axis: int, size: int) -> jax.Array:
  return jnp.moveaxis(jnp.repeat(jnp.moveaxis(x, axis, 0), 2, axis=0)[:size],
                      0, axis)


@jax.jit
def _fill_hole(video, mask):
  known = (~mask).astype(video.dtype)[..., None]
  totals, weights = [video * known], [known]
  # Push: halve every axis longer than one sample, summing values and
  # weights, until one sample is left on every axis.
  while max(totals[-1].shape[:3]) > 1:
    total, weight = totals[-1], weights[-1]
    for axis in range(3):
      if total.shape[axis] > 1:
        total, weight = _halve(total, axis), _halve(weight, axis)
    totals.append(total)
    weights.append(weight)
  # Pull: from the coarsest average down, each level's holes take the
  # coarser level's value.
  filled = totals[-1] / jnp.maximum(weights[-1], 1e-12)
  for total, weight in zip(totals[-2::-1], weights[-2::-1]):
    coarse = filled
    for axis in range(3):
      if coarse.shape[axis] != total.shape[axis]:
        coarse = _double(coarse, axis, total.shape[axis])
    mean = total / jnp.maximum(weight, 1e-12)
    filled = jnp.where(weight > 0, mean, coarse)
  return jnp.where(mask[..., None], filled, video)


def fill_hole(video: jax.typing.ArrayLike,
              mask: jax.typing.ArrayLike) -> jax.Array:
  """The hole filled from its surroundings, smoothly (push-pull).

  Known voxels are averaged over blocks of 2x2x2, 4x4x4, ... (the hole
  weighing nothing), and every hole voxel takes the average of the finest
  block around it that holds known voxels: a blurred continuation of the
  colours around the hole, used as the first guess of an inpainting.

  Args:
    video: [T, H, W, C] float.
    mask: [T, H, W] bool, True in the hole.

  Returns:
    [T, H, W, C]: `video` outside the hole (exactly), the fill inside. A mask
    that covers everything gives zeros.
  """
  video = jnp.asarray(video)
  mask = jnp.asarray(mask)
  if video.ndim != 4 or mask.shape != video.shape[:3]:
    raise ValueError(f'expected a [T, H, W, C] video and a [T, H, W] mask, '
                     f'got {video.shape} and {mask.shape}')
  return _fill_hole(video.astype(jnp.float32), mask.astype(jnp.bool_))


# The four neighbours of a voxel within its frame, as (axis, shift).
_FRAME_NEIGHBOURS = ((1, 1), (1, -1), (2, 1), (2, -1))


def _shifted(x: jax.Array, axis: int, shift: int) -> jax.Array:
  """`x` moved by `shift` (+-1) along `axis`, zeros shifted in."""
  size = x.shape[axis]
  kept = jax.lax.slice_in_dim(x, 0 if shift > 0 else 1,
                              size - 1 if shift > 0 else size, axis=axis)
  pad = [(0, 0)] * x.ndim
  pad[axis] = (1, 0) if shift > 0 else (0, 1)
  return jnp.pad(kept, pad)


def _neighbour_sum(x: jax.Array) -> jax.Array:
  return sum(_shifted(x, axis, shift) for axis, shift in _FRAME_NEIGHBOURS)


@functools.partial(jax.jit, static_argnames='num_iters')
def _blend_seams(video, mask, num_iters):
  hole = mask[..., None].astype(video.dtype)
  # The border: known voxels next to the hole in their frame. The step there
  # is the known value less the mean of the fill next to it.
  neighbours = _neighbour_sum(hole)
  border = (neighbours > 0) & (hole == 0)
  step = jnp.where(border, video - _neighbour_sum(video * hole) /
                   jnp.maximum(neighbours, 1), 0.0)
  # A membrane: the correction is harmonic in the hole (each voxel the mean
  # of its neighbours) and equals the step on the border. Push-pull gives a
  # close start, Jacobi iterations smooth out its blocks.
  domain = ((hole > 0) | border).astype(video.dtype)
  count = jnp.maximum(_neighbour_sum(domain), 1)
  correction = jnp.where(hole > 0, fill_hole(step, ~border[..., 0]), 0.0)

  def relax(_, correction):
    boundary = jnp.where(border, step, correction)
    return jnp.where(hole > 0, _neighbour_sum(boundary * domain) / count, 0.0)

  correction = jax.lax.fori_loop(0, num_iters, relax, correction)
  return jnp.where(hole > 0, jnp.clip(video + correction, 0.0, 1.0), video)


def blend_seams(video: jax.typing.ArrayLike, mask: jax.typing.ArrayLike,
                num_iters: int = 400) -> jax.Array:
  """A filled hole shifted smoothly to meet its border (Poisson blending).

  Patch-based fills keep their patches' own shading: on a surface whose
  brightness drifts across the hole (a lit path), the fill is a flat shade
  that shows as a box. This adds to the hole, frame by frame, the smoothest
  correction (a membrane: harmonic inside, the step across the border on it)
  that removes the step between the fill and its surroundings, and keeps the
  fill's detail. The output's patches are then shifted in brightness, so
  `metrics.coherence` rises (the hole of experiments/edit_examples.py's
  pedestrians_remove: 0.00065 -> 0.00125); at 144 px, where the path's
  drifting shade showed as a box, the box faded, at 288 px, where it did
  not show, the blend muddied the sand above the path.

  Args:
    video: [T, H, W, C] float, a filled video (outside the hole: the known
      voxels).
    mask: [T, H, W] bool, True in the hole.
    num_iters: Jacobi iterations after the push-pull start, whose blocks
      showed after 50 on a 50x30 hole and were gone after 400 (more:
      smoother over wider holes).

  Returns:
    [T, H, W, C]: `video` outside the hole (exactly), the corrected fill,
    clipped to [0, 1], inside. A concrete mask relaxes only the hole's box
    (the cost follows the hole); a traced one the whole video, whose
    push-pull start differs (the two agreed to 0.004 on a 50x30 hole).
  """
  video = jnp.asarray(video)
  mask = jnp.asarray(mask)
  if video.ndim != 4 or mask.shape != video.shape[:3]:
    raise ValueError(f'expected a [T, H, W, C] video and a [T, H, W] mask, '
                     f'got {video.shape} and {mask.shape}')
  if int(num_iters) < 0:
    raise ValueError(f'num_iters must be >= 0, got {num_iters}')
  video, mask = video.astype(jnp.float32), mask.astype(jnp.bool_)
  if isinstance(mask, jax.core.Tracer) or isinstance(video, jax.core.Tracer):
    return _blend_seams(video, mask, int(num_iters))
  # Only the hole's box and its border change: the cost follows the hole.
  concrete = np.asarray(mask)
  if not concrete.any():
    return video
  origin, size = bounding_box(concrete, (0, 1, 1), (1, 1, 1))
  box = tuple(slice(o, o + n) for o, n in zip(origin, size))
  return video.at[box].set(_blend_seams(video[box], mask[box],
                                        int(num_iters)))


def bounding_box(mask: np.ndarray, margin: Sequence[int],
                 minimum: Sequence[int]) -> tuple[tuple[int, ...], ...]:
  """The box around a concrete mask, grown by `margin`, at least `minimum`.

  Args:
    mask: [T, H, W] bool NumPy array with at least one True.
    margin: (mt, mh, mw) voxels added on both sides (clipped to the mask).
    minimum: (nt, nh, nw) the smallest box size per axis (at most the mask's
      size), grown around the centre.

  Returns:
    (origin, size), each (t, h, w).
  """
  origin, size = [], []
  for axis in range(3):
    other = tuple(a for a in range(3) if a != axis)
    used = np.flatnonzero(np.any(mask, axis=other))
    extent = mask.shape[axis]
    lo = max(int(used[0]) - margin[axis], 0)
    hi = min(int(used[-1]) + 1 + margin[axis], extent)
    short = minimum[axis] - (hi - lo)
    if short > 0:
      lo = max(0, min(lo - short // 2, extent - minimum[axis]))
      hi = lo + minimum[axis]
    origin.append(lo)
    size.append(hi - lo)
  return tuple(origin), tuple(size)


def _dilate(mask: jax.Array, radius: int) -> jax.Array:
  """Grown by `radius` voxels within each frame (a square); outside is off."""
  if radius == 0:
    return mask
  window = (1, 2 * radius + 1, 2 * radius + 1)
  pad = ((0, 0), (radius, radius), (radius, radius))
  return jax.lax.reduce_window(mask.astype(jnp.float32), -jnp.inf,
                               jax.lax.max, window, (1, 1, 1), pad) > 0


def _erode(mask: jax.Array, radius: int) -> jax.Array:
  """Shrunk by `radius` voxels within each frame; outside the frame counts
  as on, so a cut-out that touches the frame's edge is not eaten there."""
  return ~_dilate(~mask, radius)


@functools.partial(jax.jit, static_argnames='radius')
def _dilate_jit(mask, radius):
  return _dilate(mask, radius)


def dilate(mask: jax.typing.ArrayLike, radius: int) -> jax.Array:
  """A mask grown by `radius` pixels in every frame (a square window).

  Args:
    mask: [T, H, W] bool.
    radius: pixels added on every side, >= 0.

  Returns:
    [T, H, W] bool: True where some voxel of the frame within `radius` rows
    and columns is True (frames do not mix).
  """
  mask = jnp.asarray(mask)
  if mask.ndim != 3:
    raise ValueError(f'expected a [T, H, W] mask, got shape {mask.shape}')
  if int(radius) < 0:
    raise ValueError(f'radius must be >= 0, got {radius}')
  return _dilate_jit(mask.astype(jnp.bool_), int(radius))


@functools.partial(jax.jit, static_argnames=('radius', 'grow'))
def _foreground(video, within, background, threshold, radius, grow):
  if background is None:
    # Each voxel's background is its median over the frames where the person
    # is not near it (where `within` is off); a voxel that `within` always
    # covers takes the median of every frame.
    hidden = jnp.where(within[..., None], jnp.nan, video)
    background = jnp.where(jnp.all(within, axis=0)[..., None],
                           jnp.median(video, axis=0),
                           jnp.nanmedian(hidden, axis=0))
  if background.ndim == 3:
    background = background[None]
  changed = jnp.max(jnp.abs(video - background), axis=-1) > threshold
  # Opening drops specks of noise narrower than the window, closing then
  # fills gaps as narrow (a dark coat against dark paving, say).
  changed = _dilate(_erode(changed, radius), radius)
  changed = _erode(_dilate(changed, radius), radius)
  return _dilate(changed & within, grow)


def foreground(video: jax.typing.ArrayLike, within: jax.typing.ArrayLike, *,
               background: jax.typing.ArrayLike | None = None,
               threshold: float = 0.15, radius: int = 1,
               grow: int = 1) -> jax.Array:
  """A tight cut-out of what moves in front of a static camera.

  Background subtraction: a voxel is foreground where its colour differs from
  the background by more than `threshold` in some channel. The mask is
  cleaned in every frame by an opening and a closing with a square of
  `2 * radius + 1` pixels, kept inside `within` (a rough box around the
  person, so that other passers-by stay out) and grown by `grow` pixels, so
  that the outline's blended pixels come along. On 20 frames of
  pedestrians_vtest.avi at 288x384 (a walking man, boxes of 76x56 px) the
  defaults cut him out whole, arms and feet, with a one-pixel rim of
  paving and no shadow (experiments/edit_examples.py,
  background_change_tight).

  Args:
    video: [T, H, W, C] float in [0, 1], from a camera that does not move.
    within: [T, H, W] bool, where the person may be (generously: they are
      cut off where it ends).
    background: optional [H, W, C] (or [T, H, W, C]) colours without the
      person. By default each voxel's median over the frames where `within`
      is off there (over all frames where it is never off): clean where the
      person moves on by more than their width in less than half the clip.
    threshold: the smallest difference in some channel that counts.
    radius: the cleaning window's half-width in pixels, >= 0 (0: none).
    grow: pixels added around the cleaned cut-out, >= 0.

  Returns:
    [T, H, W] bool: the cut-out, inside `within` grown by `grow`.
  """
  video = jnp.asarray(video)
  within = jnp.asarray(within)
  if video.ndim != 4 or within.shape != video.shape[:3]:
    raise ValueError(f'expected a [T, H, W, C] video and a [T, H, W] mask, '
                     f'got {video.shape} and {within.shape}')
  if background is not None:
    background = jnp.asarray(background, jnp.float32)
    if background.shape not in (video.shape[1:], video.shape):
      raise ValueError(f'expected a [H, W, C] or [T, H, W, C] background '
                       f'like the video {video.shape}, got '
                       f'{background.shape}')
  if int(radius) < 0 or int(grow) < 0:
    raise ValueError(f'radius and grow must be >= 0, got {radius}, {grow}')
  return _foreground(video.astype(jnp.float32), within.astype(jnp.bool_),
                     background, jnp.float32(threshold), int(radius),
                     int(grow))
