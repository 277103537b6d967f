"""A toy video classifier trained on clips augmented by `vgpnn_jax.augment`.

Two classes: short clips cut from two videos of /work/shared/data (Big Buck
Bunny and the pedestrians square; without them, the bundled bunny against its
left-right mirror). Clips of the first 70% of each video's frames train, of
the last 30% test. The model is a linear layer on frames pooled over time and
space (a logistic regression), trained by plain SGD written out by hand.
Each training batch is augmented (`augment`, AUGMENT_DEFAULTS) before the
step; the same steps without augmentation are the baseline. Prints the
throughput of the augmentation and of the training steps, and the test
accuracy of both.

    PYTHONPATH=. python experiments/augment_train.py [--steps 30]
"""
import argparse
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# pylint: disable=g-import-not-at-top,wrong-import-position
from vgpnn_jax import augment as augment_lib
from vgpnn_jax import io

DATA = pathlib.Path('/work/shared/data')
CLIP = (6, 32, 40)  # frames, height, width of a clip
POOL = (4, 5)  # frames are average-pooled to this grid: 4x5x3 = 60 features


def videos() -> list[np.ndarray]:
  """The two classes' [T, 32, >=40, 3] videos."""
  paths = [DATA / 'bigbuckbunny_720p.mp4', DATA / 'pedestrians_vtest.avi']
  if all(p.exists() for p in paths):
    return [io.read_video(p, max_size=CLIP[1], stop=120)[0] for p in paths]
  bunny, _ = io.read_video(ROOT / 'vgpnn_jax' / 'data' / 'bunny.mp4',
                           max_size=CLIP[1])
  return [bunny, bunny[:, :, ::-1]]


def cut(rng: np.random.Generator, video: np.ndarray, part: str) -> np.ndarray:
  """One random [*CLIP, 3] clip from the train (first 70%) or test part."""
  split = int(0.7 * len(video))
  low, high = (0, split) if part == 'train' else (split, len(video))
  t = rng.integers(low, high - CLIP[0] + 1)
  x = rng.integers(0, video.shape[2] - CLIP[2] + 1)
  return video[t:t + CLIP[0], :CLIP[1], x:x + CLIP[2]]


def batch(rng, classes, part, size):
  """[size, *CLIP, 3] clips, half of each class, and [size] labels."""
  labels = np.arange(size) % 2
  return np.stack([cut(rng, classes[y], part) for y in labels]), labels


def features(clips: jax.Array) -> jax.Array:
  """[B, T, H, W, 3] -> [B, 60]: mean over time, average-pooled in space."""
  b, _, h, w, c = clips.shape
  frames = jnp.mean(clips, axis=1)
  pooled = frames.reshape(b, POOL[0], h // POOL[0], POOL[1], w // POOL[1], c)
  return jnp.mean(pooled, axis=(2, 4)).reshape(b, -1) - 0.5


def loss(params, clips, labels):
  logits = features(clips) @ params['w'] + params['b']
  return jnp.mean(jax.nn.softplus(logits) - labels * logits)  # logistic


@jax.jit
def sgd_step(params, clips, labels, lr):
  grads = jax.grad(loss)(params, clips, labels)
  return jax.tree.map(lambda p, g: p - lr * g, params, grads)


@jax.jit
def accuracy(params, clips, labels):
  logits = features(clips) @ params['w'] + params['b']
  return jnp.mean((logits > 0) == (labels > 0.5))


def train(classes, steps, batch_size, augmented, seed=0):
  rng = np.random.default_rng(seed)
  params = {'w': jnp.zeros((3 * POOL[0] * POOL[1],)), 'b': jnp.zeros(())}
  key = jax.random.key(seed)
  aug_time = step_time = 0.0
  for step in range(steps):
    clips, labels = batch(rng, classes, 'train', batch_size)
    clips = jnp.asarray(clips)
    if augmented:
      start = time.perf_counter()
      clips = augment_lib.augment(jax.random.fold_in(key, step), clips)
      clips.block_until_ready()
      if step:  # the first call compiles
        aug_time += time.perf_counter() - start
    start = time.perf_counter()
    params = sgd_step(params, clips, jnp.asarray(labels, jnp.float32),
                      jnp.float32(2.0))
    jax.block_until_ready(params)
    if step:
      step_time += time.perf_counter() - start
  test_clips, test_labels = batch(np.random.default_rng(1000), classes,
                                  'test', 256)
  acc = float(accuracy(params, jnp.asarray(test_clips),
                       jnp.asarray(test_labels, jnp.float32)))
  measured = (steps - 1) * batch_size
  return acc, measured / max(aug_time, 1e-9), measured / max(step_time, 1e-9)


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument('--steps', type=int, default=30)
  parser.add_argument('--batch', type=int, default=8)
  args = parser.parse_args()
  jax.config.update('jax_compilation_cache_dir', '/tmp/vcache20')
  classes = videos()
  print(f'classes: {[v.shape for v in classes]}, clips {CLIP}, '
        f'{args.steps} steps of {args.batch} clips')
  start = time.perf_counter()
  acc, aug_rate, step_rate = train(classes, args.steps, args.batch, True)
  print(f'with augment: test accuracy {acc:.3f}; augmentation '
        f'{aug_rate:.1f} clips/s, training steps {step_rate:.0f} clips/s '
        f'(after the first, compiling step; {time.perf_counter() - start:.0f}'
        f' s in all)')
  acc, _, step_rate = train(classes, args.steps, args.batch, False)
  print(f'without:      test accuracy {acc:.3f}; training steps '
        f'{step_rate:.0f} clips/s')


if __name__ == '__main__':
  main()
