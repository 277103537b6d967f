"""Accuracy and speed of `vgpnn_jax.motion`'s optical flow, and of the cue.

Synthetic 144x256 videos whose flow is known exactly (the texture is a sum of
24 sinusoids, wavelengths 5 to 80 pixels, amplitude proportional to the
wavelength, evaluated at the moved coordinates, so subpixel motion is exact):

* shift: the texture translating by (0.7, 1.3) pixels a frame;
* big shift: another texture, (2.6, -4.1) pixels a frame;
* disc: a textured disc of radius 60 rotating 3 degrees a frame about its
  centre (3.1 pixels at the rim) on a flat grey background; EPE inside the
  disc (4 pixels from its rim) and, separately, on the static background
  (4 pixels from the rim), where the truth is zero;
* zoom: the texture scaled by 1.03 a frame about the centre (up to 4.4
  pixels at the corners).

Mean end-point error (EPE, pixels) over 3 frame pairs, an 8-pixel border left
out (the content entering the frame has no match). Seconds per frame pair:
the second call on 9 frames (8 pairs) at 144x256, compilation excluded.

Then the cue: a textured square moving (1.0, 1.5) pixels a frame over a
static background, half textured, half flat grey, with Gaussian noise of std
0.01 and 8-bit rounding. AUC: the probability that a moving voxel's cue beats
a static one's (ties count half); the mean cue on the moving square, the
static texture and the static flat half (3 pixels from the square's edges
left out).

    PYTHONPATH=. .venv/bin/python experiments/flow_accuracy.py
"""
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
# pylint: disable=g-import-not-at-top,wrong-import-position
from vgpnn_jax import motion

HEIGHT, WIDTH = 144, 256
BORDER = 8
RESULTS = pathlib.Path(__file__).resolve().parent / 'results'


def texture(y, x, seed):
  """A band-limited texture in about [0, 1] at real coordinates (y, x)."""
  rng = np.random.default_rng(seed)
  wavelengths = np.exp(rng.uniform(np.log(5), np.log(80), 24))
  out = np.zeros(np.broadcast(y, x).shape)
  for wavelength in wavelengths:
    angle, phase = rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
    out += wavelength * np.cos(2 * np.pi * (np.cos(angle) * y + np.sin(angle)
                                            * x) / wavelength + phase)
  return np.clip(0.5 + out / wavelengths.sum(), 0, 1)


def _grid(h, w):
  return np.mgrid[0:h, 0:w].astype(np.float64)


def _rgb(frames):
  return np.repeat(np.stack(frames)[..., None], 3, -1).astype(np.float32)


def translation(frames, dy, dx, seed=0, h=HEIGHT, w=WIDTH):
  """[T, h, w, 3] video and its [T-1, h, w, 2] flow."""
  yy, xx = _grid(h, w)
  video = _rgb([texture(yy - t * dy, xx - t * dx, seed)
                for t in range(frames)])
  flow = np.broadcast_to(np.array([dy, dx]), (frames - 1, h, w, 2))
  return video, flow


def rotating_disc(frames, degrees, radius, seed=0, h=HEIGHT, w=WIDTH):
  """Video, flow and the [h, w] disc mask; the background is flat 0.5."""
  yy, xx = _grid(h, w)
  ry, rx = yy - (h - 1) / 2, xx - (w - 1) / 2
  inside = ry**2 + rx**2 <= radius**2
  omega = np.deg2rad(degrees)
  video = []
  for t in range(frames):
    c, s = np.cos(omega * t), np.sin(omega * t)
    video.append(np.where(inside, texture(c * ry - s * rx, s * ry + c * rx,
                                          seed), 0.5))
  c, s = np.cos(omega), np.sin(omega)
  flow = np.stack([c * ry + s * rx - ry, -s * ry + c * rx - rx], -1)
  flow = np.where(inside[..., None], flow, 0.0)
  return _rgb(video), np.broadcast_to(flow, (frames - 1, h, w, 2)), inside


def zoom(frames, factor, seed=0, h=HEIGHT, w=WIDTH):
  yy, xx = _grid(h, w)
  ry, rx = yy - (h - 1) / 2, xx - (w - 1) / 2
  video = _rgb([texture(ry / factor**t, rx / factor**t, seed)
                for t in range(frames)])
  flow = np.stack([(factor - 1) * ry, (factor - 1) * rx], -1)
  return video, np.broadcast_to(flow, (frames - 1, h, w, 2))


def moving_square(frames, dy=1.0, dx=1.5, side=48, noise=0.01, seed=0):
  """Square over a half-textured, half-flat static background, noisy.

  Returns the video, the [T-1, H, W] bool moving mask (the square in frame t)
  and the [T-1, H, W] int region: 0 static flat, 1 static textured, 2 moving,
  -1 left out (within 3 pixels of the square's edge).
  """
  yy, xx = _grid(HEIGHT, WIDTH)
  background = np.where(xx < WIDTH // 2, 0.5, texture(yy, xx, seed + 2))
  rng = np.random.default_rng(seed)
  video, regions = [], []
  for t in range(frames):
    top, left = 40 + t * dy, 60 + t * dx
    inside = ((yy >= top) & (yy < top + side) & (xx >= left)
              & (xx < left + side))
    near = ((yy >= top - 3) & (yy < top + side + 3) & (xx >= left - 3)
            & (xx < left + side + 3))
    core = ((yy >= top + 3) & (yy < top + side - 3) & (xx >= left + 3)
            & (xx < left + side - 3))
    frame = np.where(inside, texture(yy - top, xx - left, seed + 3),
                     background)
    frame = frame + noise * rng.standard_normal(frame.shape)
    video.append(np.round(np.clip(frame, 0, 1) * 255) / 255)
    region = np.where(xx < WIDTH // 2, 0, 1)
    region = np.where(near, -1, region)
    regions.append(np.where(core, 2, region))
  return _rgb(video), np.stack(regions[:-1])


def epe(flow, truth, mask=None):
  error = np.linalg.norm(np.asarray(flow, np.float64) - truth, axis=-1)
  if mask is None:
    return float(error[:, BORDER:-BORDER, BORDER:-BORDER].mean())
  return float(error[:, mask].mean())


def erode(mask, pixels):
  yy, xx = _grid(*mask.shape)
  ry, rx = yy - (mask.shape[0] - 1) / 2, xx - (mask.shape[1] - 1) / 2
  radius = np.sqrt(ry**2 + rx**2)
  return radius[mask].max() - pixels, radius


FLOW_CONFIGS = [
    ('lucas_kanade', dict(min_eigenvalue=1e-4)),
    ('lucas_kanade', dict(min_eigenvalue=3e-5)),
    ('lucas_kanade', dict(min_eigenvalue=1e-5)),
    ('lucas_kanade', dict(min_eigenvalue=1e-5, num_warps=5)),
    ('lucas_kanade', dict(min_eigenvalue=1e-5, pyramid_sigma=0.0)),
    ('lucas_kanade', dict(min_eigenvalue=1e-5, window_sigma=1.5)),
    ('lucas_kanade', dict(min_eigenvalue=1e-5, window_sigma=3.0)),
    ('horn_schunck', dict(smoothness=0.02, pyramid_sigma=0.0,
                          num_warps=5)),  # the first version's defaults
    ('horn_schunck', dict(smoothness=0.1, pyramid_sigma=0.0)),
    ('horn_schunck', dict(smoothness=0.05)),
    ('horn_schunck', dict(smoothness=0.1)),
    ('horn_schunck', dict(smoothness=0.2)),
    ('horn_schunck', dict(smoothness=0.1, num_iters=20)),
    ('horn_schunck', dict(smoothness=0.1, num_iters=80)),
]


def flow_table():
  shift = translation(4, 0.7, 1.3)
  big = translation(4, 2.6, -4.1, seed=1)
  disc_video, disc_flow, inside = rotating_disc(4, 3.0, 60)
  rim, radius = erode(inside, 4)
  disc_in, disc_out = radius <= rim, radius >= rim + 8
  zoomed = zoom(4, 1.03)
  timing = translation(9, 0.7, 1.3)[0]
  rows = []
  for method, options in FLOW_CONFIGS:
    def run(video, method=method, options=options):
      return np.asarray(motion.optical_flow(video, method=method, **options))
    start = time.perf_counter()
    row = [epe(run(shift[0]), shift[1]), epe(run(big[0]), big[1])]
    flow = run(disc_video)
    row += [epe(flow, disc_flow, disc_in), epe(flow, disc_flow, disc_out)]
    row.append(epe(run(zoomed[0]), zoomed[1]))
    run(timing)
    start = time.perf_counter()
    jax.block_until_ready(motion.optical_flow(timing, method=method,
                                              **options))
    row.append((time.perf_counter() - start) / (timing.shape[0] - 1))
    settings = ', '.join(f'{k}={v}' for k, v in options.items())
    rows.append(f'| {method} | {settings} | ' + ' | '.join(
        f'{v:.3f}' for v in row) + ' |')
    print(rows[-1], flush=True)
  return rows


def _quantised(values, bins):
  centres, labels = motion.kmeans_1d(values, bins)
  top = centres[-1]
  levels = jnp.where(top > 0, centres / jnp.where(top > 0, top, 1.0), 0.0)
  return np.asarray(jnp.power(levels, 0.25)[labels])


def auc(positive, negative):
  """P(positive > negative), ties half, by ranks."""
  values = np.concatenate([positive, negative])
  order = np.argsort(values, kind='stable')
  ranks = np.empty(len(values))
  ranks[order] = np.arange(1, len(values) + 1)
  # Average ranks over ties.
  _, inverse, counts = np.unique(values, return_inverse=True,
                                 return_counts=True)
  sums = np.bincount(inverse, ranks)
  ranks = (sums / counts)[inverse]
  n = len(positive)
  return (ranks[:n].sum() - n * (n + 1) / 2) / (n * len(negative))


def cue_table(noise):
  video, regions = moving_square(6, noise=noise)
  grey = video[..., 0]
  cues = {}
  for name, options in [('lucas_kanade', dict(min_eigenvalue=1e-4)),
                        ('lucas_kanade', dict(min_eigenvalue=3e-5)),
                        ('lucas_kanade', dict(min_eigenvalue=1e-5)),
                        ('horn_schunck', dict())]:
    label = f'flow {name}, ' + (', '.join(f'{k}={v}' for k, v in
                                          options.items()) or 'defaults')
    cues[label + ', 4 bins'] = np.asarray(motion.motion_cue(
        video, bins=4, method=name, **options))[:-1, ..., 0]
    flow = np.asarray(motion.optical_flow(video, method=name, **options))
    magnitude = np.linalg.norm(flow, axis=-1)
    cues[label + ', not quantised'] = (magnitude / magnitude.max())**0.25
  difference = np.abs(grey[1:] - grey[:-1])
  cues['temporal difference, 4 bins'] = _quantised(difference, 4)
  cues['temporal difference, not quantised'] = (difference
                                                / difference.max())**0.25
  rows = []
  for name, cue in cues.items():
    moving, flat = cue[regions == 2], cue[regions == 0]
    textured = cue[regions == 1]
    rows.append(f'| {noise} | {name} | {auc(moving, np.concatenate([flat, textured])):.3f}'
                f' | {moving.mean():.3f} | {textured.mean():.3f} | '
                f'{flat.mean():.3f} |')
    print(rows[-1], flush=True)
  return rows


def main() -> None:
  header = ('| method | settings | EPE shift | EPE big shift | EPE disc | '
            'EPE disc background | EPE zoom | s / pair |\n'
            '|---|---|---|---|---|---|---|---|')
  print(header)
  flow_rows = flow_table()
  cue_header = ('| noise | cue | AUC moving vs static | mean moving | mean static '
                'texture | mean static flat |\n|---|---|---|---|---|---|')
  print(cue_header)
  cue_rows = cue_table(0.01) + cue_table(0.003)
  text = [
      '# Optical flow for the motion cue: accuracy and speed',
      '',
      'Command: `PYTHONPATH=. .venv/bin/python experiments/flow_accuracy.py`'
      f' (2-core CPU, jax {jax.__version__}). The scenes are described in '
      'the script\'s docstring; EPE in pixels, 8-pixel border left out; '
      'unlisted settings are the defaults of `motion.optical_flow`.',
      '', header, *flow_rows, '',
      'Seconds per pair are the 9-frame call after compilation (compiling '
      'one 144x256 flow program takes 4-7 s, whatever T); they vary about '
      '2x with the load of the shared machine, compare them within a run.',
      '',
      'Reading: with the defaults (Lucas-Kanade, min_eigenvalue=3e-5, 3 '
      'warps, pyramid_sigma=1) the flow is accurate wherever there is '
      'texture. Horn-Schunck, fixed (smoothness 0.1 instead of 0.02, the '
      'blur before each halving), is as accurate inside textures but fills '
      'the static flat background with the disc\'s motion (about 1.8 pixel '
      'mean error there), so it stays an option and Lucas-Kanade, which '
      'leaves unmeasurable pixels at zero, is the default. min_eigenvalue '
      '1e-4 zeroes the low-contrast parts of a clean texture (EPE 0.2) '
      'but suits noisy video (table below).',
      '',
      '## Cues: moving square over a static, noisy background', '',
      cue_header, *cue_rows, '',
      'Reading: the frame difference separates moving from static voxels '
      'worse than the flow at both noise levels, and quantising the flow '
      'magnitude into 4 k-means levels costs Lucas-Kanade at most 0.01 of '
      'AUC (Horn-Schunck 0.04); neither '
      'alternative is offered by `motion_cue`. At noise std 0.01 '
      'min_eigenvalue=1e-4 separates best (0.99 against 0.90 at the '
      'default 3e-5); at 0.003 the default does (0.997).', '']
  RESULTS.mkdir(exist_ok=True)
  (RESULTS / 'flow_accuracy.md').write_text('\n'.join(text))


if __name__ == '__main__':
  main()
