"""Antialiased cubic resize on any set of axes.

The rules (DESIGN.md §1) differ from `jax.image.resize` at the borders:

* Keys cubic kernel with a = -0.5;
* half-pixel sampling grid: output sample i sits at input coordinate
  `(i + 0.5) / scale - 0.5`, with `scale = out_size / in_size` per axis;
* when downscaling the kernel is stretched by `1 / scale` (antialiasing);
* borders are mirrored (half-sample symmetric: sample -1 reads sample 0);
* the taps of every output sample are normalised to sum to one.

Axes whose size does not change are left untouched (the cubic kernel is the
identity there). The tap positions and weights depend only on the static sizes,
so they are computed once in NumPy and the array work is a handful of gathers.
"""

import functools
import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from vgpnn_jax import errors

_KEYS_A = -0.5


def keys_cubic(x: np.ndarray, a: float = _KEYS_A) -> np.ndarray:
  """Keys' cubic convolution kernel.

  Args:
    x: any shape, the distance from the kernel centre in samples.
    a: the kernel's free parameter (-0.5 makes it third-order accurate).

  Returns:
    The kernel value at `x`, same shape; zero for |x| >= 2.
  """
  x = np.abs(np.asarray(x, dtype=np.float64))
  near = ((a + 2) * x - (a + 3)) * x * x + 1
  far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
  return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def mirror_index(index: np.ndarray, size: int) -> np.ndarray:
  """Reflects indices into [0, size) with half-sample symmetry (-1 -> 0)."""
  period = 2 * size
  index = np.mod(index, period)
  return np.where(index >= size, period - 1 - index, index)


@functools.lru_cache(maxsize=512)
def resize_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
  """Tap positions and weights of a 1-D resize.

  Args:
    in_size: number of input samples (>= 1).
    out_size: number of output samples (>= 1).

  Returns:
    indices: [out_size, taps] int32 input sample read by each tap (mirrored).
    weights: [out_size, taps] float64 weights; each row sums to one.
  """
  if in_size < 1 or out_size < 1:
    raise ValueError(f'sizes must be >= 1, got {in_size} -> {out_size}')
  scale = out_size / in_size
  stretch = min(scale, 1.0)  # antialias: widen the kernel when downscaling
  support = 2.0 / stretch
  centres = (np.arange(out_size) + 0.5) / scale - 0.5
  first = np.floor(centres - support).astype(np.int64) + 1
  taps = int(math.ceil(2 * support)) + 1
  positions = first[:, None] + np.arange(taps)[None, :]
  weights = keys_cubic((centres[:, None] - positions) * stretch)
  weights /= weights.sum(axis=1, keepdims=True)
  # Drop tap columns that are zero for every output sample.
  used = np.any(weights != 0, axis=0)
  positions, weights = positions[:, used], weights[:, used]
  indices = mirror_index(positions, in_size).astype(np.int32)
  return indices, weights


# Per output sample, a product with a dense resize matrix costs about 1/30 of
# a tap (a gather and a multiply-add) per input sample on XLA:CPU: below this
# many input samples per tap the matrix is cheaper to run, and it always
# compiles faster.
_DENSE_SAMPLES_PER_TAP = 32


def _resize_axis(x: jax.Array, axis: int, out_size: int) -> jax.Array:
  indices, weights = resize_taps(x.shape[axis], out_size)
  x = jnp.moveaxis(x, axis, 0)
  if x.shape[0] <= _DENSE_SAMPLES_PER_TAP * indices.shape[1]:
    matrix = np.zeros((out_size, x.shape[0]))
    np.add.at(matrix, (np.arange(out_size)[:, None], indices), weights)
    result = jnp.tensordot(jnp.asarray(matrix, x.dtype), x, axes=1,
                           precision=jax.lax.Precision.HIGHEST)
    return jnp.moveaxis(result, 0, axis)
  expand = (slice(None),) + (None,) * (x.ndim - 1)
  indices = jnp.asarray(indices.T)  # [taps, out_size]
  weights = jnp.asarray(weights.T, x.dtype)

  # A loop over the taps: unrolled, the resizes of a 720p pyramid took 17 s
  # to compile.
  def add_tap(tap, result):
    gathered = jnp.take(x, indices[tap], axis=0)
    return result + weights[tap][expand] * gathered

  result = jax.lax.fori_loop(0, indices.shape[0], add_tap,
                             jnp.zeros((out_size,) + x.shape[1:], x.dtype))
  return jnp.moveaxis(result, 0, axis)


@functools.partial(jax.jit, static_argnames='shape')
def _resize(x: jax.Array, shape: tuple[int, ...]) -> jax.Array:
  # Shrink the axes that get smaller first so later passes touch fewer values.
  changed = [a for a in range(x.ndim) if shape[a] != x.shape[a]]
  changed.sort(key=lambda a: shape[a] / x.shape[a])
  for axis in changed:
    x = _resize_axis(x, axis, shape[axis])
  return x


def resize(x: jax.typing.ArrayLike, shape: Sequence[int]) -> jax.Array:
  """Resizes an array with the antialiased Keys cubic kernel.

  Typical use is a video `[T, H, W, C]` resized in time and space,
  `resize(video, (t, h, w))`; any rank works and only the axes whose size
  changes are touched.

  Args:
    x: [d0, d1, ..., dn] float array.
    shape: the output sizes of the leading axes, `(d0', ..., dk')` with
      k <= n; the remaining axes keep their size. Every size >= 1.

  Returns:
    [d0', ..., dk', d(k+1), ..., dn] array of the floating dtype of `x`
    (float32 for integer and bool inputs).

  Raises:
    ValueError: a complex or empty `x`, an output size below 1, more sizes
      than axes; `InputError` (a ValueError) for concrete values that are
      not finite (one NaN would spread along every resized axis) or an input
      or output too large for the free memory.
  """
  traced = isinstance(x, jax.core.Tracer)
  if not traced:  # before the device copy of a broadcast or mapped input
    _check_array_fits(np.shape(x), 'the array to resize')
  x = jnp.asarray(x)
  if jnp.issubdtype(x.dtype, jnp.complexfloating):
    raise ValueError(f'resize takes real values, got dtype {x.dtype}; resize '
                     f'the real and imaginary parts apart')
  if not jnp.issubdtype(x.dtype, jnp.floating):
    x = x.astype(jnp.float32)
  shape = tuple(int(s) for s in shape)
  if len(shape) > x.ndim:
    raise ValueError(f'shape {shape} has more axes than the input {x.shape}')
  shape = shape + x.shape[len(shape):]
  if min(shape) < 1:
    raise ValueError(f'every output size must be >= 1, got {shape}')
  if shape == x.shape:
    return x
  if 0 in x.shape:
    raise ValueError(f'cannot resize an empty array (shape {x.shape}) to '
                     f'{shape}')
  if not traced:
    _check_array_fits(shape, 'the resized array')
    errors.check_finite(x, 'the array to resize')
  return _resize(x, shape)


def resize_frames(x: jax.Array, shape: Sequence[int], first: jax.typing.ArrayLike,
                  count: int) -> jax.Array:
  """Frames `first` to `first + count` of `resize(x, shape)`, made alone.

  Reads only the input frames those frames' taps touch, so a window of a
  long video is resized without the whole resized video (a temporal window's
  start, `generation._run_windows`). Equal to the whole resize's frames up to
  float rounding (the axes are resized in another order).

  Args:
    x: [T, d1, ..., dn] float array (a video [T, H, W, C]).
    shape: the whole resize's leading sizes `(T', d1', ...)`, as in `resize`.
    first: int scalar, may be traced (windows of a level share one
      program); 0 <= first <= T' - count.
    count: static number of frames, 1 <= count <= T'.

  Returns:
    [count, d1', ..., dn] array of the dtype of `x`.
  """
  shape = tuple(int(s) for s in shape) + tuple(x.shape[len(shape):])
  if not 1 <= count <= shape[0]:
    raise ValueError(f'count must be in [1, {shape[0]}], got {count}')
  if shape[0] == x.shape[0]:
    frames = jax.lax.dynamic_slice_in_dim(x, first, count)
  else:
    indices, weights = resize_taps(x.shape[0], shape[0])
    indices = jax.lax.dynamic_slice_in_dim(jnp.asarray(indices), first, count)
    weights = jax.lax.dynamic_slice_in_dim(jnp.asarray(weights, x.dtype),
                                           first, count)
    expand = (slice(None),) + (None,) * (x.ndim - 1)
    # A few taps (upscaling between levels: 4-5): summed unrolled.
    frames = sum(weights[:, tap][expand] * jnp.take(x, indices[:, tap], axis=0)
                 for tap in range(indices.shape[1]))
  rest = (count,) + shape[1:]
  return frames if rest == frames.shape else _resize(frames, rest)


def _check_array_fits(shape: Sequence[int], what: str) -> None:
  """`memory.check_array_fits` (imported here: memory imports generation,
  which imports this module)."""
  from vgpnn_jax import memory  # pylint: disable=g-import-not-at-top
  memory.check_array_fits(shape, what)
