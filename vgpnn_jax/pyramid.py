"""Pyramid level sizes and pyramid construction.

Level i of a `(T, H, W)` video has size `ceil(T fT^i), ceil(H fS^i),
ceil(W fS^i)` (a value within 1e-5 of an integer is rounded instead). Time stops
shrinking at `min_frames`, space when the shorter side reaches `min_side`; the
pyramid has as many levels as the axis that shrinks longest needs. Every level is
resized directly from the input, not from the level above (DESIGN.md §1).

Levels are listed finest first: level 0 is the input size.
"""

import math
from typing import Sequence

import jax

from vgpnn_jax import errors
from vgpnn_jax import resampling as resize_lib

Size = tuple[int, int, int]  # (frames, height, width)

_ROUNDING_TOLERANCE = 1e-5


def scaled_size(size: float) -> int:
  """`ceil(size)`, except that a value within 1e-5 of an integer is rounded."""
  nearest = round(size)
  if abs(size - nearest) < _ROUNDING_TOLERANCE:
    return max(int(nearest), 1)
  return max(int(math.ceil(size)), 1)


def _num_shrinks(size: int, factor: float, minimum: int) -> int:
  """How many times an axis of `size` shrinks by `factor` before `minimum`."""
  if factor >= 1 or size <= minimum:
    return 0
  count = 0
  while True:
    current = scaled_size(size * factor**count)
    following = scaled_size(size * factor**(count + 1))
    if current <= minimum or following < minimum:
      break
    count += 1
  return count


def level_sizes(
    size: Sequence[int],
    *,
    time_factor: float = 0.85,
    space_factor: float = 0.85,
    min_frames: int = 3,
    min_side: int = 15,
    max_levels: int | None = None,
) -> list[Size]:
  """Sizes of the pyramid levels of a video.

  Args:
    size: (T, H, W) of the input video.
    time_factor: downscale factor per level in time, in (0, 1].
    space_factor: downscale factor per level in height and width, in (0, 1).
    min_frames: time stops shrinking at this many frames.
    min_side: space stops shrinking when the shorter side reaches this.
    max_levels: if given, keep at most this many levels (the finest ones).

  Returns:
    A list of (T, H, W) sizes, finest (the input size) first.
  """
  frames, height, width = (int(s) for s in size)
  if min(frames, height, width) < 1:
    raise ValueError(f'video size must be positive, got {tuple(size)}')
  if not 0 < time_factor <= 1 or not 0 < space_factor < 1:
    raise ValueError(f'factors must be in (0, 1], got time {time_factor}, '
                     f'space {space_factor}')
  if max_levels is not None and max_levels < 1:
    raise ValueError(f'max_levels must be >= 1, got {max_levels}')
  time_shrinks = _num_shrinks(frames, time_factor, min_frames)
  space_shrinks = _num_shrinks(min(height, width), space_factor, min_side)
  num_levels = 1 + max(time_shrinks, space_shrinks)
  if max_levels is not None:
    num_levels = min(num_levels, max_levels)
  sizes = []
  for level in range(num_levels):
    t_scale = time_factor ** min(level, time_shrinks)
    s_scale = space_factor ** min(level, space_shrinks)
    sizes.append((scaled_size(frames * t_scale), scaled_size(height * s_scale),
                  scaled_size(width * s_scale)))
  return sizes


def output_sizes(sizes: Sequence[Size],
                 scale: Sequence[float] = (1.0, 1.0, 1.0)) -> list[Size]:
  """Output size of every level for an output scale `(sT, sH, sW)`.

  Args:
    sizes: the input pyramid's level sizes, finest first.
    scale: output size over input size in time, height and width.

  Returns:
    A list of (T, H, W) output sizes, one per level, finest first.
  """
  # NaN fails `> 0` too; an infinite size has no integer to round to.
  if len(scale) != 3 or not all(s > 0 and math.isfinite(s) for s in scale):
    raise errors.InputError(
        f'scale must be three positive finite numbers sT,sH,sW, got '
        f'{tuple(scale)}')
  return [tuple(scaled_size(n * s) for n, s in zip(level, scale))
          for level in sizes]


def check_fits_patch(sizes: Sequence[Size], out_sizes: Sequence[Size],
                     patch_size: Sequence[int]) -> None:
  """Raises `InputError` unless the coarsest levels hold one whole patch.

  Args:
    sizes: the input pyramid's level sizes, finest first.
    out_sizes: the output pyramid's level sizes, finest first.
    patch_size: (pt, ph, pw).
  """
  names = ('frames', 'height', 'width')
  coarsest, coarsest_out = sizes[-1], out_sizes[-1]
  for axis, name in enumerate(names):
    if coarsest[axis] < patch_size[axis]:
      if axis == 0:
        raise errors.InputError(
            f'the video has {coarsest[0]} frame(s) at its coarsest level but the '
            f'patch spans {patch_size[0]} frames; give a video with at least '
            f'{patch_size[0]} frames, or a patch of 1 frame for single images')
      raise errors.InputError(
          f'the coarsest pyramid level is {coarsest[1]}x{coarsest[2]} pixels, '
          f'smaller than the {patch_size[1]}x{patch_size[2]} patch; use a '
          f'larger video, a smaller patch, or a larger min_side')
    if coarsest_out[axis] < patch_size[axis]:
      raise errors.InputError(
          f'the requested scale leaves the coarsest output level '
          f'{coarsest_out[0]}x{coarsest_out[1]}x{coarsest_out[2]} (TxHxW), '
          f'whose {name} ({coarsest_out[axis]}) cannot hold one '
          f'{patch_size[0]}x{patch_size[1]}x{patch_size[2]} patch; use a larger '
          f'scale in {name}, a smaller patch, or fewer pyramid levels '
          f'(max_levels, --levels on the command line)')


def build_pyramid(video: jax.Array, sizes: Sequence[Size]) -> list[jax.Array]:
  """Resizes the video to every level size, each directly from the input.

  Args:
    video: [T, H, W, C] float array.
    sizes: (T, H, W) level sizes, finest first.

  Returns:
    A list of [T_i, H_i, W_i, C] arrays, finest first.
  """
  return [resize_lib.resize(video, size) for size in sizes]
