"""Speed and quality of `patchmatch` on a 13-frame 144x256 video.

Queries are frames 8-20 of the airballoons sample, keys frames 1-13 (the same
scene a little later: natural queries with no exact copy among the keys), or,
with --synthetic or without the sample, two random smooth videos. Patch
3x7x7. Per configuration: compile seconds, seconds per call after compiling
(wall and process CPU, median of --repeats), the mean squared distance of
2000 sampled query patches to their match, over the exact nearest distance
of the same patches (brute force on those 2000 only), and the process's peak
RSS so far. A 2048x2048 float32 NumPy matmul is timed at the start and the end
as the machine's yardstick (the machine may be shared: compare its time too).

  .venv/bin/python experiments/bench_patchmatch.py [--large] [--exact-mode]
"""

import argparse
import os
import resource
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from vgpnn_jax import patchmatch as pm  # pylint: disable=g-import-not-at-top

PATCH = (3, 7, 7)
DATA = '/work/shared/data/airballoons'


def load_videos(synthetic: bool, scale: int = 1):
  """(queries, keys) float32 [13, 144*scale, 256*scale, 3] in [0, 1]."""
  shape = (144 * scale, 256 * scale)
  if not synthetic and os.path.isdir(DATA):
    from PIL import Image  # pylint: disable=g-import-not-at-top
    frames = []
    for i in range(1, 21):
      image = Image.open(os.path.join(DATA, f'{i}.png')).convert('RGB')
      if image.size != shape[::-1]:
        image = image.resize(shape[::-1], Image.BICUBIC)
      frames.append(np.asarray(image, np.float32) / 255)
    frames = np.stack(frames)
    return frames[7:20], frames[:13], 'airballoons'
  rng = np.random.default_rng(0)
  videos = []
  for _ in range(2):
    x = rng.random((13,) + shape + (3,)).astype(np.float32)
    for axis, count in ((0, 1), (1, 4 * scale), (2, 4 * scale)):
      for _ in range(count):
        x = (x + np.roll(x, 1, axis) + np.roll(x, -1, axis)) / 3
    videos.append(x)
  return videos[0], videos[1], 'random smooth'


def exact_nearest_sample(queries, keys, positions):
  """Exact nearest squared distance of the query patches at `positions`.

  Key patches are unfolded 16 rows of corners at a time (7 MB), so the
  peak RSS reported below is PatchMatch's, not this reference's.
  """
  centre = np.float32(0.5)  # smaller norms: less cancellation below

  def unfold(video):  # a view: nothing is copied until indexed
    w = sliding_window_view(video - centre, PATCH, axis=(0, 1, 2))
    return w.transpose(0, 1, 2, 4, 5, 6, 3)

  q = unfold(queries)[positions[:, 0], positions[:, 1], positions[:, 2]]
  q = q.reshape(len(positions), -1)
  q_sq = (q.astype(np.float64)**2).sum(1)
  best = np.full(len(q), np.inf)
  key_patches = unfold(keys)
  for t in range(key_patches.shape[0]):
    for h in range(0, key_patches.shape[1], 16):  # 16 rows of key corners
      k = np.ascontiguousarray(key_patches[t, h:h + 16]).reshape(-1, q.shape[1])
      approx = q_sq[:, None] - 2 * (q @ k.T) + (k.astype(np.float64)**2).sum(1)
      top = np.argpartition(approx, 8, axis=1)[:, :8]
      for j in range(top.shape[1]):  # re-score the 8 best exactly
        diff = q.astype(np.float64) - k[top[:, j]]
        best = np.minimum(best, (diff**2).sum(1))
  return best


def matmul_seconds():
  a = np.random.default_rng(0).random((2048, 2048), np.float32)
  a @ a
  start = time.perf_counter()
  for _ in range(3):
    a @ a
  return (time.perf_counter() - start) / 3


def peak_rss_mb():
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(queries, keys, repeats, init_field=None, **options):
  """(compile s, median wall s, median cpu s, field, dist)."""
  static = ('patch_size',) + tuple(options)
  fn = jax.jit(pm.patchmatch, static_argnames=static)
  start = time.perf_counter()
  compiled = fn.lower(jax.random.key(0), queries, keys, patch_size=PATCH,
                      init_field=init_field, **options).compile()
  compile_s = time.perf_counter() - start
  walls, cpus = [], []
  for r in range(repeats + 1):
    wall, cpu = time.perf_counter(), time.process_time()
    field, dist = compiled(jax.random.key(r), queries, keys,
                           init_field=init_field)
    dist.block_until_ready()
    if r:  # the first call warms up
      walls.append(time.perf_counter() - wall)
      cpus.append(time.process_time() - cpu)
  return compile_s, np.median(walls), np.median(cpus), field, dist


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--samples', type=int, default=2000)
  parser.add_argument('--synthetic', action='store_true')
  parser.add_argument('--large', action='store_true',
                      help='also time 13x288x512 once')
  parser.add_argument('--exact-mode', action='store_true',
                      help='also score candidates exactly (slow)')
  args = parser.parse_args()

  print(f'jax {jax.__version__}, {jax.devices()[0].platform}, '
        f'{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}')
  print(f'numpy 2048^2 float32 matmul: {matmul_seconds():.3f} s')
  queries_np, keys_np, source = load_videos(args.synthetic)
  queries, keys = jnp.asarray(queries_np), jnp.asarray(keys_np)
  grid = np.array(queries.shape[:3]) - PATCH + 1
  rng = np.random.default_rng(1)
  flat = rng.choice(int(np.prod(grid)), args.samples, replace=False)
  positions = np.stack(np.unravel_index(flat, tuple(grid)), axis=-1)
  start = time.perf_counter()
  exact = exact_nearest_sample(queries_np, keys_np, positions).mean()
  print(f'{source} {tuple(queries.shape)}, patch {PATCH}: exact mean over '
        f'{args.samples} patches {exact:.4f} ({time.perf_counter() - start:.0f}'
        f' s brute force); RSS before searching {peak_rss_mb():.0f} MB\n')

  header = (f'{"configuration":44s} {"compile":>8s} {"wall":>7s} {"cpu":>7s} '
            f'{"mean d":>8s} {"/exact":>7s} {"RSS MB":>7s}')
  print(header)
  print('-' * len(header))

  def row(name, queries, keys, init_field=None, with_quality=True, **options):
    compile_s, wall, cpu, field, dist = bench(queries, keys, args.repeats,
                                              init_field, **options)
    if with_quality:
      sample = np.asarray(dist)[tuple(positions.T)].mean()
      quality = f'{sample:8.4f} {sample / exact:7.3f}'
    else:
      quality = f'{"":8s} {"":7s}'
    print(f'{name:44s} {compile_s:8.2f} {wall:7.3f} {cpu:7.3f} {quality} '
          f'{peak_rss_mb():7.0f}', flush=True)
    return field

  cold = row('random start, default (2 passes)', queries, keys)
  row('  then from that field, default (1 pass)', queries, keys,
      init_field=cold)
  row('  then from that field, 2 passes', queries, keys, init_field=cold,
      num_passes=2)
  for passes in (0, 1, 3, 5):
    row(f'random start, {passes} passes', queries, keys, num_passes=passes)
  for dim in (8, 32):
    row(f'random start, 2 passes, {dim}-dim descriptors', queries, keys,
        descriptor_dim=dim)
  for block in (2048, 32768):
    row(f'random start, 2 passes, blocks of {block}', queries, keys,
        block_size=block)
  if args.exact_mode:
    row('random start, 1 pass, exact scoring', queries, keys,
        num_passes=1, descriptor_dim=None)
  if args.large:
    big_q, big_k, _ = load_videos(args.synthetic, scale=2)
    big_q, big_k = jnp.asarray(big_q), jnp.asarray(big_k)
    big_cold = row(f'{tuple(big_q.shape)}: random start, default', big_q,
                   big_k, with_quality=False)
    row(f'{tuple(big_q.shape)}: from that field, default', big_q, big_k,
        init_field=big_cold, with_quality=False)
  print(f'\nnumpy 2048^2 float32 matmul: {matmul_seconds():.3f} s, load '
        f'average {os.getloadavg()[0]:.1f}')


if __name__ == '__main__':
  main()
