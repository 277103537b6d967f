"""Plain NumPy references for the tests: slow loops, written for clarity;
and a shared test input."""

import numpy as np


def wave_video(frames: int, height: int, width: int,
               seed: int = 0) -> np.ndarray:
  """[frames, height, width, 3] float32 in [0, 1]: a moving wave plus noise
  (the generation tests' input)."""
  rng = np.random.default_rng(seed)
  t = np.linspace(0, 1, frames)[:, None, None, None]
  y = np.linspace(0, 1, height)[None, :, None, None]
  x = np.linspace(0, 1, width)[None, None, :, None]
  c = np.array([0.2, 0.5, 0.8])
  video = 0.5 + 0.3 * np.sin(6 * x + 4 * y + 3 * t + 5 * c)
  video = video + 0.05 * rng.normal(size=video.shape)
  return np.clip(video, 0, 1).astype(np.float32)


def keys_cubic(x, a=-0.5):
  x = abs(x)
  if x <= 1:
    return (a + 2) * x**3 - (a + 3) * x**2 + 1
  if x < 2:
    return a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
  return 0.0


def resize_axis(x, axis, out_size):
  """Antialiased Keys cubic resize of one axis, mirrored borders, float64."""
  x = np.moveaxis(np.asarray(x, np.float64), axis, 0)
  in_size = x.shape[0]
  scale = out_size / in_size
  stretch = min(scale, 1.0)
  out = np.zeros((out_size,) + x.shape[1:])
  for i in range(out_size):
    centre = (i + 0.5) / scale - 0.5
    total, weight_sum = 0.0, 0.0
    for j in range(int(np.floor(centre - 2 / stretch)) - 1,
                   int(np.ceil(centre + 2 / stretch)) + 2):
      weight = keys_cubic((centre - j) * stretch)
      if weight == 0:
        continue
      k = j % (2 * in_size)
      if k >= in_size:
        k = 2 * in_size - 1 - k
      total = total + weight * x[k]
      weight_sum += weight
    out[i] = total / weight_sum
  return np.moveaxis(out, 0, axis)


def resize(x, shape):
  for axis, size in enumerate(shape):
    if size != x.shape[axis]:
      x = resize_axis(x, axis, size)
  return np.asarray(x)


def unfold(video, patch_size):
  pt, ph, pw = patch_size
  t, h, w, c = video.shape
  out = np.zeros((t - pt + 1, h - ph + 1, w - pw + 1, pt * ph * pw * c),
                 video.dtype)
  for i in range(t - pt + 1):
    for j in range(h - ph + 1):
      for k in range(w - pw + 1):
        out[i, j, k] = video[i:i + pt, j:j + ph, k:k + pw].reshape(-1)
  return out


def fold(patches, patch_size, reduce):
  pt, ph, pw = patch_size
  nt, nh, nw, d = patches.shape
  c = d // (pt * ph * pw)
  blocks = patches.reshape(nt, nh, nw, pt, ph, pw, c)
  votes = {}
  for i in range(nt):
    for j in range(nh):
      for k in range(nw):
        for a in range(pt):
          for b in range(ph):
            for e in range(pw):
              votes.setdefault((i + a, j + b, k + e), []).append(
                  blocks[i, j, k, a, b, e])
  out = np.zeros((nt + pt - 1, nh + ph - 1, nw + pw - 1, c), patches.dtype)
  for (i, j, k), values in votes.items():
    values = np.stack(values)  # [count, C]
    if reduce == 'mean':
      out[i, j, k] = values.mean(axis=0)
    else:  # lower median, as torch.median
      out[i, j, k] = np.sort(values, axis=0)[(len(values) - 1) // 2]
  return out


def nearest(queries, keys):
  """Brute-force nearest key (first on ties) and squared distance, float64."""
  q = queries.astype(np.float64)
  k = keys.astype(np.float64)
  d = ((q[:, None, :] - k[None, :, :])**2).sum(-1)
  return d.argmin(axis=1), d.min(axis=1)
