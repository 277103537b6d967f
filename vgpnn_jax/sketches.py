"""Sketches to render with `analogy.sketch`: flat colours, one per region.

* `from_video`: a video's colours clustered into a few flat ones (k-means on
  its coarse frames), a start a user can draw over (move the blob, paint the
  sky);
* `moving_disc`: a disc crossing a two-colour background, to try
  sketch-to-video without drawing.

    drawing = sketches.from_video(video, num_colours=4)   # [T, H, W, 3]
    drawing = sketches.moving_disc((13, 144, 256))
"""

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from vgpnn_jax import memory
from vgpnn_jax import resampling

# The coarse frames clustered: about this many pixels on the shorter side.
_COARSE_SIDE = 36
# Defaults of `moving_disc`: sky over grass, a red disc.
SKY = (0.55, 0.7, 0.9)
GROUND = (0.3, 0.5, 0.2)
DISC = (0.85, 0.25, 0.15)


def _nearest_centre(pixels: jax.Array, centres: jax.Array) -> jax.Array:
  """[N, C], [k, C] -> [N] int32 index of the nearest centre."""
  distance = jnp.sum(jnp.square(pixels[:, None] - centres[None]), axis=-1)
  return jnp.argmin(distance, axis=1).astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=('k', 'num_iters'))
def kmeans_colours(pixels: jax.Array, k: int,
                   num_iters: int = 20) -> jax.Array:
  """Deterministic k-means (Lloyd) of colours.

  The centres start by farthest points (no random key: the same pixels give
  the same centres): the first is the pixel nearest the mean colour, each
  next the pixel farthest from the centres so far, so a small region of its
  own colour (a drawn disc) gets a centre rather than a large region two.
  A centre left with no pixel stays where it is.

  Args:
    pixels: [N, C] float colours, N >= 1.
    k: number of colours, >= 1.
    num_iters: Lloyd iterations.

  Returns:
    [k, C] float32 centres.
  """
  pixels = pixels.astype(jnp.float32)
  squared = lambda c: jnp.sum(jnp.square(pixels - c[None]), axis=-1)  # [N]
  first = pixels[jnp.argmin(squared(jnp.mean(pixels, axis=0)))]
  centres = jnp.zeros((k, pixels.shape[1]), jnp.float32).at[0].set(first)

  def farthest(j, state):
    centres, nearest = state
    pick = pixels[jnp.argmax(nearest)]
    return centres.at[j].set(pick), jnp.minimum(nearest, squared(pick))

  centres, _ = jax.lax.fori_loop(1, k, farthest, (centres, squared(first)))

  def lloyd(_, centres):
    member = jax.nn.one_hot(_nearest_centre(pixels, centres), k)  # [N, k]
    counts = jnp.sum(member, axis=0)
    means = (member.T @ pixels) / jnp.maximum(counts, 1)[:, None]
    return jnp.where(counts[:, None] > 0, means, centres)

  return jax.lax.fori_loop(0, num_iters, lloyd, centres)


def from_video(video: jax.typing.ArrayLike, num_colours: int = 4, *,
               num_iters: int = 20) -> jax.Array:
  """A sketch of a video: every voxel replaced by one of a few flat colours.

  The colours are k-means centres of the coarse frames (about 36 px on the
  shorter side, so that detail does not get its own colour); every voxel
  of the video, smoothed to that scale, takes its nearest centre.

  Args:
    video: [T, H, W, C] float video in [0, 1].
    num_colours: k, the number of flat colours (>= 2).
    num_iters: k-means iterations.

  Returns:
    [T, H, W, C] float32 with at most `num_colours` distinct colours.
  """
  video = jnp.asarray(video, jnp.float32)
  if video.ndim != 4:
    raise ValueError(f'expected a [T, H, W, C] video, got shape '
                     f'{video.shape}')
  if int(num_colours) < 2:
    raise ValueError(f'num_colours must be >= 2, got {num_colours}')
  t, h, w, c = video.shape
  factor = min(1.0, _COARSE_SIDE / min(h, w))
  coarse_size = (t, max(1, round(h * factor)), max(1, round(w * factor)), c)
  coarse = resampling.resize(video, coarse_size)
  centres = kmeans_colours(coarse.reshape(-1, c), int(num_colours),
                           int(num_iters))
  smooth = resampling.resize(coarse, video.shape)
  labels = _nearest_centre(smooth.reshape(-1, c), centres)
  return centres[labels].reshape(video.shape)


def moving_disc(size: Sequence[int], *,
                radius: float = 0.15,
                start: Sequence[float] = (0.45, 0.15),
                end: Sequence[float] = (0.45, 0.85),
                horizon: float = 0.65,
                sky: Sequence[float] = SKY,
                ground: Sequence[float] = GROUND,
                disc: Sequence[float] = DISC) -> np.ndarray:
  """A disc moving on a straight line over sky and ground.

  Args:
    size: (T, H, W).
    radius: disc radius as a fraction of H.
    start: (row, column) of the disc's centre in the first frame, as
      fractions of (H, W).
    end: the same in the last frame; the centre moves at constant speed.
    horizon: rows above this fraction of H are sky, the others ground.
    sky, ground, disc: RGB colours in [0, 1].

  Returns:
    [T, H, W, 3] float32 with three flat colours.

  Raises:
    ValueError: a size below 1; `InputError` (a ValueError) for a size too
      large for the free memory (before anything is allocated).
  """
  t, h, w = (int(s) for s in size)
  if min(t, h, w) < 1:
    raise ValueError(f'size must be positive, got {tuple(size)}')
  memory.check_array_fits((t, h, w, 3), 'the disc sketch')
  rows = np.arange(h, dtype=np.float32)[:, None]
  cols = np.arange(w, dtype=np.float32)[None, :]
  frames = np.empty((t, h, w, 3), np.float32)
  background = np.where((rows < horizon * h)[..., None], np.float32(sky),
                        np.float32(ground)) + np.zeros((1, w, 1), np.float32)
  for i in range(t):
    f = i / max(t - 1, 1)
    cy = ((1 - f) * start[0] + f * end[0]) * h
    cx = ((1 - f) * start[1] + f * end[1]) * w
    inside = (rows - cy)**2 + (cols - cx)**2 <= (radius * h)**2
    frames[i] = np.where(inside[..., None], np.float32(disc), background)
  return frames
