"""A motion cue with no learned weights: classical optical flow, quantised.

Video analogies need, for every voxel, a rough measure of how much it moves.
The VGPNN paper uses the optical-flow magnitude, quantised into a few levels by
k-means, normalised by its maximum and raised to the power 0.25. Here the flow
is classical and dense, computed coarse-to-fine on the grey video
(0.299 R + 0.587 G + 0.114 B), all frame pairs at once:

* an image pyramid, halving each side until the coarsest side would fall
  below 12 pixels; each level is the finer one blurred by a Gaussian of std
  `pyramid_sigma` (1 pixel) and resized by `resampling.resize` (antialiased
  Keys cubic). The extra blur matters for Horn-Schunck: the cubic's
  antialiasing alone leaves aliased fine texture at the coarse levels, which
  moves the wrong way; on a translating texture of wavelengths 8 to 20
  pixels at 144x256 that gave Horn-Schunck (smoothness 0.1) a mean
  end-point error of 0.76 pixel, 0.02 with the blur. Lucas-Kanade barely
  notices (0.03 either way);
* at each level, from coarse to fine, the flow of the coarser level upsampled
  (and its components scaled by the size ratio), then `num_warps` warping
  iterations: frame t+1 is sampled (Keys cubic) at p + flow(p) and the flow is
  corrected from the linearised brightness constancy
  `Iy * dy + Ix * dx + (I_{t+1}(p + flow) - I_t(p)) = 0`;
* **Lucas-Kanade** (the default): the correction solves that constraint in the
  least-squares sense over a Gaussian window (the 2x2 structure tensor of frame
  t). Where the tensor's smaller eigenvalue is below `min_eigenvalue` (a flat
  or one-directional neighbourhood) the flow is unknown: it gets no correction
  at that level, and at the finest level it is set to **zero**.
* **Horn-Schunck**: the correction minimises the constraint squared plus
  `smoothness**2` times the squared flow gradient (Jacobi iterations), so flat
  regions are filled in from their surroundings: dense everywhere, smoother.

Spatial derivatives are the 5-tap central difference (1, -8, 0, 8, -1) / 12;
borders are mirrored (half-sample symmetric, as in `resampling`) and warps read
outside the frame at the nearest border pixel. Flow is (dy, dx) in pixels:
frame t's pixel (y, x) is seen at (y + dy, x + dx) in frame t+1.

experiments/flow_accuracy.py measured the methods and settings on synthetic
144x256 videos of known flow (experiments/results/flow_accuracy.md). With the
defaults both methods are accurate where there is texture: mean end-point
error 0.014 (Lucas-Kanade) and 0.005 (Horn-Schunck) pixel on a subpixel
translation, 0.02 on a rotating disc and 0.04 / 0.02 on a zoom, in 0.016 /
0.034 s per frame pair on 2 CPU cores (about twice that under load; one
144x256 program compiles in 4-7 s, whatever the number of frames, and
`motion_cue` on 30x144x256 then takes about 1 s). Lucas-Kanade is the default because of what it does
where nothing is measured: it leaves a flat static background at zero, where
Horn-Schunck spreads the motion of the neighbouring object into it (1.8 pixel
mean error on the disc's flat background), and the cue then calls that
background moving. Three warps per level are at least as accurate as five
(0.036 against 0.064 pixel on a 4.9-pixel shift) and take 40% less time.
"""

import functools
import math
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from vgpnn_jax import resampling

METHODS = ('lucas_kanade', 'horn_schunck')

# ITU-R BT.601 luma.
_GREY_WEIGHTS = (0.299, 0.587, 0.114)
# The pyramid stops before a side falls below this: a Lucas-Kanade window at
# the default sigma spans 11 pixels.
_MIN_COARSE_SIDE = 12
# Fourth-order central difference: exact on cubics, so the gradient of a
# smooth texture is right to well under 1% up to about a quarter of Nyquist.
_DERIVATIVE = (1 / 12, -8 / 12, 0.0, 8 / 12, -1 / 12)
# Horn and Schunck's neighbourhood mean (edges 1/6, corners 1/12).
_HS_EDGE, _HS_CORNER = 1 / 6, 1 / 12


def pyramid_shapes(height: int, width: int,
                   levels: Optional[int] = None) -> tuple[tuple[int, int], ...]:
  """Frame sizes of the flow pyramid, finest first.

  Args:
    height: frame height H.
    width: frame width W.
    levels: number of levels; None: as many as keep both sides >= 12 at the
      coarsest (at least one).

  Returns:
    ((H, W), (round(H / 2), round(W / 2)), ...), `levels` pairs.
  """
  if levels is None:
    levels = 1
    while min(height, width) * 0.5**levels >= _MIN_COARSE_SIDE:
      levels += 1
  return tuple((max(1, round(height * 0.5**l)), max(1, round(width * 0.5**l)))
               for l in range(levels))


def _grey(video: jax.Array) -> jax.Array:
  """[T, H, W, C] with C in (1, 3) -> [T, H, W] float32 luma."""
  video = video.astype(jnp.float32)
  if video.shape[-1] == 1:
    return video[..., 0]
  r, g, b = _GREY_WEIGHTS
  return r * video[..., 0] + g * video[..., 1] + b * video[..., 2]


def _filter_axis(x: jax.Array, axis: int, taps) -> jax.Array:
  """Correlates axis `axis` with odd-length `taps`, mirrored borders.

  Shifted slices of one padded copy: for a dozen taps that beats a
  convolution on XLA:CPU and compiles quickly.
  """
  radius = len(taps) // 2
  size = x.shape[axis]
  pad = [(0, 0)] * x.ndim
  pad[axis] = (radius, radius)
  padded = jnp.pad(x, pad, mode='symmetric')
  result = None
  for k, tap in enumerate(taps):
    if tap == 0:
      continue
    term = tap * jax.lax.slice_in_dim(padded, k, k + size, axis=axis)
    result = term if result is None else result + term
  return result


@functools.lru_cache(maxsize=64)
def gaussian_taps(sigma: float) -> tuple[float, ...]:
  """Normalised Gaussian taps of std `sigma` pixels, radius ceil(2.5 sigma)."""
  radius = max(1, int(math.ceil(2.5 * sigma)))
  x = np.arange(-radius, radius + 1, dtype=np.float64)
  taps = np.exp(-0.5 * (x / sigma)**2)
  return tuple(float(t) for t in taps / taps.sum())


def _blur(x: jax.Array, sigma: float) -> jax.Array:
  """Separable Gaussian of [P, h, w, ...] along axes 1 and 2."""
  taps = gaussian_taps(sigma)
  return _filter_axis(_filter_axis(x, 1, taps), 2, taps)


def _gradients(image: jax.Array) -> tuple[jax.Array, jax.Array]:
  """[P, h, w] -> (d/dy, d/dx), each [P, h, w]."""
  return _filter_axis(image, 1, _DERIVATIVE), _filter_axis(image, 2,
                                                           _DERIVATIVE)


def _keys_weights(fraction: jax.Array) -> list[jax.Array]:
  """Keys cubic (a = -0.5) weights of the taps at -1, 0, 1, 2 from the floor."""
  f = fraction
  f2, f3 = f * f, f * f * f
  return [-0.5 * f3 + f2 - 0.5 * f,
          1.5 * f3 - 2.5 * f2 + 1,
          -1.5 * f3 + 2 * f2 + 0.5 * f,
          0.5 * f3 - 0.5 * f2]


def _warp(image: jax.Array, flow: jax.Array) -> jax.Array:
  """Keys cubic samples of `image` [P, h, w] at p + flow(p), flow [P, h, w, 2].

  Cubic, not bilinear: a bilinear sample half a pixel off damps a texture of
  wavelength 10 pixels by 4.5%, and the flow reads that residual as motion
  (0.1 pixel mean end-point error on the synthetic translations, against
  under 0.01 for cubic). Positions outside the frame are clamped to it, taps
  outside it read the nearest border pixel.
  """
  p, h, w = image.shape
  rows = jnp.clip(jnp.arange(h, dtype=jnp.float32)[None, :, None]
                  + flow[..., 0], 0, h - 1)
  cols = jnp.clip(jnp.arange(w, dtype=jnp.float32)[None, None, :]
                  + flow[..., 1], 0, w - 1)
  r0, c0 = jnp.floor(rows), jnp.floor(cols)
  row_weights = _keys_weights(rows - r0)
  col_weights = _keys_weights(cols - c0)
  r0, c0 = r0.astype(jnp.int32), c0.astype(jnp.int32)
  flat = image.reshape(p, h * w)
  result = None
  for i, row_weight in enumerate(row_weights):
    r = jnp.clip(r0 + (i - 1), 0, h - 1) * w
    line = None
    for j, col_weight in enumerate(col_weights):
      index = (r + jnp.clip(c0 + (j - 1), 0, w - 1)).reshape(p, h * w)
      term = col_weight * jnp.take_along_axis(flat, index, axis=1).reshape(
          p, h, w)
      line = term if line is None else line + term
    term = row_weight * line
    result = term if result is None else result + term
  return result


def _upsample_flow(flow: jax.Array, shape: tuple[int, int]) -> jax.Array:
  """[P, h, w, 2] -> [P, H, W, 2], the vectors rescaled to the new pixels."""
  p, h, w, _ = flow.shape
  scale = jnp.asarray(np.array([shape[0] / h, shape[1] / w]).reshape(
      1, 1, 1, 2), jnp.float32)
  return resampling.resize(flow, (p,) + tuple(shape)) * scale


def _min_eigenvalue(syy, sxy, sxx):
  """Smaller eigenvalue of the symmetric [[syy, sxy], [sxy, sxx]]."""
  half_trace = 0.5 * (syy + sxx)
  return half_trace - jnp.sqrt(jnp.square(0.5 * (syy - sxx)) + jnp.square(sxy))


def _lucas_kanade_level(first, second, flow, *, window_sigma, num_warps,
                        min_eigenvalue):
  """Refines `flow` [P, h, w, 2] from frames `first` to `second` [P, h, w].

  Returns the refined flow and the [P, h, w] bool reliability mask.
  """
  gy, gx = _gradients(first)
  tensor = _blur(jnp.stack([gy * gy, gy * gx, gx * gx], axis=-1),
                 window_sigma)
  syy, sxy, sxx = tensor[..., 0], tensor[..., 1], tensor[..., 2]
  reliable = _min_eigenvalue(syy, sxy, sxx) >= min_eigenvalue
  det = syy * sxx - sxy * sxy
  # The gradients are frame t's: the tensor and its inverse are computed once
  # per level, so a warp costs one cubic sample (16 gathers) and one
  # 2-channel blur.
  inv_det = jnp.where(reliable, 1 / jnp.where(reliable, det, 1.0), 0.0)

  def warp_step(_, flow):
    residual = _warp(second, flow) - first
    b = -_blur(jnp.stack([gy * residual, gx * residual], axis=-1),
               window_sigma)
    dy = (sxx * b[..., 0] - sxy * b[..., 1]) * inv_det
    dx = (syy * b[..., 1] - sxy * b[..., 0]) * inv_det
    return flow + jnp.stack([dy, dx], axis=-1)

  return jax.lax.fori_loop(0, num_warps, warp_step, flow), reliable


def _neighbour_mean(flow: jax.Array) -> jax.Array:
  """Horn-Schunck's 3x3 weighted mean (centre excluded) of [P, h, w, 2]."""
  h, w = flow.shape[1:3]
  padded = jnp.pad(flow, ((0, 0), (1, 1), (1, 1), (0, 0)), mode='edge')

  def shifted(dy, dx):
    return padded[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]

  edges = shifted(-1, 0) + shifted(1, 0) + shifted(0, -1) + shifted(0, 1)
  corners = (shifted(-1, -1) + shifted(-1, 1) + shifted(1, -1)
             + shifted(1, 1))
  return _HS_EDGE * edges + _HS_CORNER * corners


def _horn_schunck_level(first, second, flow, *, smoothness, num_warps,
                        num_iters):
  """Refines `flow` [P, h, w, 2] from frames `first` to `second` [P, h, w]."""

  def warp_step(_, flow):
    warped = _warp(second, flow)
    # Gradients of the mean of frame t and warped t+1: symmetric in the two,
    # so the linearisation stays accurate as the warp converges.
    gy, gx = _gradients(0.5 * (first + warped))
    # The constraint on the new flow v: gy * vy + gx * vx + offset = 0.
    offset = warped - first - gy * flow[..., 0] - gx * flow[..., 1]
    gy_n = gy / (smoothness**2 + gy * gy + gx * gx)
    gx_n = gx / (smoothness**2 + gy * gy + gx * gx)

    def jacobi(_, v):
      mean = _neighbour_mean(v)
      error = gy * mean[..., 0] + gx * mean[..., 1] + offset
      return mean - jnp.stack([gy_n * error, gx_n * error], axis=-1)

    return jax.lax.fori_loop(0, num_iters, jacobi, flow)

  return jax.lax.fori_loop(0, num_warps, warp_step, flow)


@functools.partial(jax.jit, static_argnames=(
    'method', 'shapes', 'pyramid_sigma', 'num_warps', 'window_sigma',
    'min_eigenvalue', 'smoothness', 'num_iters'))
def _optical_flow(grey: jax.Array, *, method: str,
                  shapes: tuple[tuple[int, int], ...], pyramid_sigma: float,
                  num_warps: int,
                  window_sigma: float, min_eigenvalue: float,
                  smoothness: float, num_iters: int) -> jax.Array:
  frames = grey.shape[0]
  pyramid = [grey]
  for shape in shapes[1:]:
    # Each level from the previous: the antialiased halving is cheaper than
    # resizing the full frames again and just as smooth.
    finer = pyramid[-1]
    if pyramid_sigma > 0:
      finer = _blur(finer, pyramid_sigma)
    pyramid.append(resampling.resize(finer, (frames,) + shape))
  flow = jnp.zeros((frames - 1,) + shapes[-1] + (2,), jnp.float32)
  reliable = None
  for level in reversed(range(len(shapes))):
    frame = pyramid[level]
    if flow.shape[1:3] != shapes[level]:
      flow = _upsample_flow(flow, shapes[level])
    if method == 'lucas_kanade':
      flow, reliable = _lucas_kanade_level(
          frame[:-1], frame[1:], flow, window_sigma=window_sigma,
          num_warps=num_warps, min_eigenvalue=min_eigenvalue)
    else:
      flow = _horn_schunck_level(frame[:-1], frame[1:], flow,
                                 smoothness=smoothness, num_warps=num_warps,
                                 num_iters=num_iters)
  if reliable is not None:
    flow = jnp.where(reliable[..., None], flow, 0.0)
  return flow


def optical_flow(video: jax.typing.ArrayLike, *, method: str = 'lucas_kanade',
                 levels: Optional[int] = None, pyramid_sigma: float = 1.0,
                 num_warps: int = 3,
                 window_sigma: float = 2.0, min_eigenvalue: float = 3e-5,
                 smoothness: float = 0.1, num_iters: int = 40) -> jax.Array:
  """Dense optical flow from every frame to the next, coarse-to-fine.

  Args:
    video: [T, H, W, C] float video in [0, 1], C = 3 (RGB, made grey) or 1,
      T >= 2.
    method: 'lucas_kanade' or 'horn_schunck' (see the module docstring).
    levels: pyramid levels; None: halve until a side would fall below 12.
    pyramid_sigma: std in pixels of the Gaussian blur before each halving
      (0: none, the cubic's antialiasing only).
    num_warps: warping iterations per level.
    window_sigma: (lucas_kanade) std of the Gaussian window, in pixels of
      each level.
    min_eigenvalue: (lucas_kanade) a pixel whose windowed structure tensor
      (mean squared gradient, grey levels per pixel) has its smaller
      eigenvalue below this is unreliable: no correction at that level, flow
      zero at the finest level. 3e-5 is an rms gradient of 0.0055 per pixel,
      1.4 of 255 grey levels, in both directions. Measured
      (flow_accuracy.md): 1e-4 zeroes 12% of a clean, low-contrast texture
      (mean end-point error 0.2 against 0.014) but is the better choice for
      noisy video (noise std 0.01: moving-vs-static AUC of the cue 0.99
      against 0.90); at noise std 0.003, 3e-5 separates best (0.997).
    smoothness: (horn_schunck) the weight alpha of the smoothness term, in grey
      levels per pixel (0.05-0.1 measured best; 0.02 was unstable).
    num_iters: (horn_schunck) Jacobi iterations per warp.

  Returns:
    [T-1, H, W, 2] float32 flow (dy, dx) in pixels: frame t's pixel (y, x)
    moves to (y + dy, x + dx) in frame t+1.
  """
  video = jnp.asarray(video)
  if video.ndim != 4 or video.shape[-1] not in (1, 3):
    raise ValueError('expected a [T, H, W, 3] (or 1-channel) video, got shape '
                     f'{video.shape}')
  if video.shape[0] < 2:
    raise ValueError(f'flow needs at least 2 frames, got {video.shape[0]}')
  if method not in METHODS:
    raise ValueError(f'method must be one of {METHODS}, got {method!r}')
  if levels is not None and int(levels) < 1:
    raise ValueError(f'levels must be >= 1, got {levels}')
  if int(num_warps) < 1 or int(num_iters) < 1:
    raise ValueError(f'num_warps and num_iters must be >= 1, got {num_warps} '
                     f'and {num_iters}')
  if pyramid_sigma < 0:
    raise ValueError(f'pyramid_sigma must be >= 0, got {pyramid_sigma}')
  if window_sigma <= 0 or smoothness <= 0 or min_eigenvalue < 0:
    raise ValueError('window_sigma and smoothness must be > 0 and '
                     f'min_eigenvalue >= 0, got {window_sigma}, {smoothness}, '
                     f'{min_eigenvalue}')
  shapes = pyramid_shapes(video.shape[1], video.shape[2],
                          None if levels is None else int(levels))
  return _optical_flow(_grey(video), method=method, shapes=shapes,
                       pyramid_sigma=float(pyramid_sigma),
                       num_warps=int(num_warps),
                       window_sigma=float(window_sigma),
                       min_eigenvalue=float(min_eigenvalue),
                       smoothness=float(smoothness), num_iters=int(num_iters))


def _distinct_quantiles(values: jax.Array, k: int) -> jax.Array:
  """[N] -> [k]: the (j + 0.5) / k quantiles of the distinct values of `values`.

  Quantiles of the distinct values rather than of all of them: a value that
  many entries share (the zero flow of a static background) then seeds one
  centre, not several that would stay identical.
  """
  ordered = jnp.sort(values)
  is_new = jnp.concatenate([jnp.ones((1,), bool), ordered[1:] != ordered[:-1]])
  rank = jnp.cumsum(is_new.astype(jnp.int32)) - 1  # distinct rank, sorted
  count = (rank[-1] + 1).astype(jnp.float32)
  fractions = jnp.asarray((np.arange(k) + 0.5) / k, jnp.float32)
  targets = jnp.floor(fractions * count).astype(jnp.int32)
  return ordered[jnp.searchsorted(rank, targets, side='left')]


def _nearest(values: jax.Array, centres: jax.Array) -> jax.Array:
  """[N], [k] -> [N] int32 index of the nearest centre (the lower on ties)."""
  distance = jnp.abs(values[:, None] - centres[None, :])
  return jnp.argmin(distance, axis=1).astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=('k', 'num_iters'))
def _kmeans_1d(values: jax.Array, k: int,
               num_iters: int) -> tuple[jax.Array, jax.Array]:
  clusters = jnp.arange(k, dtype=jnp.int32)

  def lloyd(_, centres):
    member = _nearest(values, centres)[:, None] == clusters[None, :]  # [N, k]
    sums = jnp.sum(jnp.where(member, values[:, None], 0.0), axis=0)
    counts = jnp.sum(member.astype(jnp.int32), axis=0)
    means = sums / jnp.maximum(counts, 1).astype(values.dtype)
    return jnp.where(counts > 0, means, centres)  # an empty cluster stays put

  centres = jax.lax.fori_loop(0, num_iters, lloyd,
                              _distinct_quantiles(values, k))
  centres = jnp.sort(centres)
  return centres, _nearest(values, centres)


def kmeans_1d(values: jax.typing.ArrayLike, k: int, *,
              num_iters: int = 20) -> tuple[jax.Array, jax.Array]:
  """Deterministic k-means (Lloyd) of scalar values.

  Initial centres are the (j + 0.5) / k quantiles, j = 0..k-1, of the distinct
  values; each iteration assigns every value to its nearest centre and moves
  each centre to the mean of its values (a centre with none stays). No random
  key: the same values give the same clusters.

  Args:
    values: [...] float array, clustered as one flat list of N >= 1 values.
    k: number of clusters, >= 1.
    num_iters: Lloyd iterations.

  Returns:
    centres: [k] float32, ascending (repeated when there are fewer than k
      distinct values).
    labels: int32, the shape of `values`: index of each value's nearest
      centre (the lower one on ties).
  """
  values = jnp.asarray(values)
  if values.size < 1:
    raise ValueError('kmeans_1d needs at least one value')
  if int(k) < 1 or int(num_iters) < 0:
    raise ValueError(f'k must be >= 1 and num_iters >= 0, got {k}, '
                     f'{num_iters}')
  centres, labels = _kmeans_1d(values.reshape(-1).astype(jnp.float32), int(k),
                               int(num_iters))
  return centres, labels.reshape(values.shape)


def motion_cue(video: jax.typing.ArrayLike, *, bins: int = 4,
               exponent: float = 0.25, kmeans_iters: int = 20,
               min_motion: float = 0.0,
               **flow_options) -> jax.Array:
  """The VGPNN motion cue: quantised, normalised optical-flow magnitude.

  The flow magnitude of every voxel is clustered into `bins` levels by
  `kmeans_1d`, each voxel takes its cluster's centre, the result is divided by
  the largest centre and raised to the power `exponent`.

  * Frame t (t < T-1) gets the forward flow from frame t to t+1, so the
    first frame has a measured cue; the last frame has no next frame and
    repeats frame T-2's cue (its values do not weigh in the clustering).
  * Where the flow is unreliable it has magnitude 0: with Lucas-Kanade (the
    default) at flat or one-directional neighbourhoods (see `optical_flow`'s
    `min_eigenvalue`); so does a static voxel. Those voxels fall in the
    lowest level, whose cue is (its centre / the largest)**exponent: 0 when
    the lowest cluster holds only zeros, otherwise small but, through the
    0.25 power, not negligible (a centre at 1/16 of the largest gives 0.5).
    With method='horn_schunck' flat regions get the flow filled in from
    around them instead, so a flat static background next to a moving object
    reads as moving (experiments/results/flow_accuracy.md).
  * A video of one frame, or one whose flow is zero everywhere (a static or
    constant video), gets all zeros, not NaN.
  * Measured alternatives (flow_accuracy.md, a textured square moving over a
    noisy static background): the frame difference |I_{t+1} - I_t| separates
    moving from static voxels worse (AUC 0.73 quantised, 0.81-0.93 not,
    against 0.90-0.997 for the default), and the unquantised flow magnitude
    no better than the quantised one (within 0.01); neither is offered.

  Args:
    video: [T, H, W, C] float video in [0, 1], C = 3 or 1.
    bins: number of k-means levels, >= 1 (the paper: 4 to 8).
    exponent: the power applied after normalising.
    kmeans_iters: Lloyd iterations.
    min_motion: flow magnitudes below this many pixels per frame count as
      still (0) before clustering: on real footage sensor and compression
      noise gives static regions a flow of a few tenths of a pixel, which the
      0.25 power would otherwise lift to half the cue of the fastest motion.
    **flow_options: keyword options of `optical_flow` (method, levels, ...).

  Returns:
    [T, H, W, 1] float32 in [0, 1], at most `bins` distinct values.
  """
  video = jnp.asarray(video)
  if video.ndim != 4 or video.shape[-1] not in (1, 3):
    raise ValueError('expected a [T, H, W, 3] (or 1-channel) video, got shape '
                     f'{video.shape}')
  if int(bins) < 1 or exponent <= 0:
    raise ValueError(f'bins must be >= 1 and exponent > 0, got {bins}, '
                     f'{exponent}')
  if video.shape[0] < 2:
    return jnp.zeros(video.shape[:3] + (1,), jnp.float32)
  flow = optical_flow(video, **flow_options)
  magnitude = jnp.sqrt(jnp.sum(jnp.square(flow), axis=-1))  # [T-1, H, W]
  if min_motion < 0:
    raise ValueError(f'min_motion must be >= 0, got {min_motion}')
  if min_motion > 0:
    magnitude = jnp.where(magnitude < min_motion, 0.0, magnitude)
  centres, labels = kmeans_1d(magnitude, int(bins), num_iters=kmeans_iters)
  return _normalise(centres, labels, float(exponent))


@functools.partial(jax.jit, static_argnames='exponent')
def _normalise(centres: jax.Array, labels: jax.Array,
               exponent: float) -> jax.Array:
  top = centres[-1]  # ascending, so the largest
  moving = top > 0
  levels = jnp.where(moving, centres / jnp.where(moving, top, 1.0), 0.0)
  cue = jnp.power(levels, exponent)[labels]  # [T-1, H, W]
  cue = jnp.concatenate([cue, cue[-1:]], axis=0)
  return cue[..., None]
