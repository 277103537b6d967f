"""Data augmentation: a new variant of every clip of a training batch.

Each clip is replaced by a VGPNN variation of itself (DESIGN.md §1): made of
the clip's own patches, rearranged from noise at a coarse level, so that the
variant keeps the clip's look and motion and changes its layout. The settings
are cheap ones (`AUGMENT_DEFAULTS`: few levels, one iteration, no structure
guard), measured in experiments/results/augment.md.

    clips = ...                                    # [B, T, H, W, 3] in [0, 1]
    out = augment(jax.random.key(0), clips)        # [B, T, H, W, 3]
    out = augment(key, clips, out_shape=(6, 64, 64))   # [B, 6, 64, 64, 3]
    for path, index, variant in stream(key, paths, num_variants=4):
      ...                                          # one variant at a time

`augment` is one jitted program per (config, out_shape, clip shape): it can be
called under `jax.jit` (config and out_shape static) and `jax.vmap`. The same
key gives the same variants, bit for bit. `AugmentTransform` wraps it as a
grain `RandomMapTransform` when grain is installed.
"""

import functools
import operator
import os
import zlib
from typing import Iterable, Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from vgpnn_jax import errors
from vgpnn_jax import generation
from vgpnn_jax import io

# Cheap settings for training-time use, chosen by measurement on bunny
# 8x72x128 and a speedway clip 8x72x88 (experiments/results/augment.md): the
# 6 finest levels, one iteration per level, the search chosen by cost
# ('auto'), no completeness term, no structure guard, the library's default
# noise (20 patch spreads). Against 4 levels it gave 1.3-1.4x the diversity
# (0.35 / 0.30 against 0.26 / 0.21) at as good a coherence, for 1.2-1.4x the
# time; 3 levels barely changed the layout (diversity 0.19 / 0.08); a second
# iteration cost 1.5x for no diversity.
AUGMENT_DEFAULTS = dict(max_levels=6, num_iters=1, coarsest_iters=1,
                        search='auto', alpha=None, layout_draws=1,
                        noise_std=20.0, noise_unit='patch_spread')


def augment_config(config: generation.Config | None = None,
                   **overrides) -> generation.Config:
  """`config`, or the `Config` of `AUGMENT_DEFAULTS`, with `overrides`.

  Raises:
    TypeError, ValueError: as `generation.make_config`.
  """
  if config is None:
    config = generation.make_config(**AUGMENT_DEFAULTS)
  return generation.make_config(config, **overrides)


def _check_clips(clips) -> jax.Array:
  """[B, T, H, W, C] float clips (InputError otherwise), as float32."""
  shape = np.shape(clips)
  if len(shape) != 5:
    hint = ('add the batch axis (clip[None])' if len(shape) == 4 else
            'give a [batch, frames, height, width, channels] array')
    raise errors.InputError(
        f'augment takes clips of shape [batch, frames, height, width, '
        f'channels], got shape {shape}: {hint}')
  clips = jnp.asarray(clips)
  if not jnp.issubdtype(clips.dtype, jnp.floating):
    raise errors.InputError(
        f'augment takes float clips in [0, 1], got dtype {clips.dtype}; '
        f'divide uint8 frames by 255')
  if 0 in shape:
    raise errors.InputError(
        f'the clips are empty (shape {shape}); give at least one clip of '
        f'at least one frame, pixel and channel')
  generation.check_video_values(clips, 'the clips')  # skipped when traced
  return clips.astype(jnp.float32)


def _scale_for(size: Sequence[int], out_shape) -> tuple[float, float, float]:
  """The output scale (sT, sH, sW) that makes `size` (T, H, W) `out_shape`."""
  try:
    out = tuple(operator.index(n) for n in out_shape)
  except TypeError:
    out = ()
  if len(out) != 3 or min(out) < 1:
    raise errors.InputError(
        f'out_shape must be three positive integers (frames, height, '
        f'width), got {out_shape!r}')
  # pyramid.scaled_size rounds sizes within 1e-5 of an integer: n * (m / n)
  # gives m back at the finest level.
  return tuple(m / n for m, n in zip(out, size))


@functools.partial(jax.jit, static_argnames=('config',))
def _augment(key: jax.Array, clips: jax.Array,
             config: generation.Config) -> jax.Array:
  """[B, T, H, W, C] -> [B, T', H', W', C]: one key per clip, split from
  `key`. One program: the level programs `generate` calls are jitted
  functions, inlined here (they check values only when concrete)."""
  keys = jax.random.split(key, clips.shape[0])
  return jax.vmap(lambda k, clip: generation.generate(k, clip, config))(
      keys, clips)


def augment(key: jax.Array,
            clips: jax.typing.ArrayLike,
            config: generation.Config | None = None,
            out_shape: Sequence[int] | None = None) -> jax.Array:
  """A variant of every clip: the clip's own patches, in a new layout.

  Args:
    key: one PRNG key (`jax.random.key(seed)`), split into one per clip;
      the same key and clips give the same variants, bit for bit.
    clips: [B, T, H, W, C] float clips in [0, 1], finite (values checked
      unless traced).
    config: a `Config`; None: `AUGMENT_DEFAULTS` (`augment_config()`).
      Static under `jax.jit`. Its `scale` is ignored when `out_shape` is
      given.
    out_shape: (T', H', W') of the variants; None keeps (T, H, W). Static
      under `jax.jit`.

  Returns:
    [B, T, H, W, C], or [B, T', H', W', C] with `out_shape`; float32.

  Raises:
    InputError: clips not [B, T, H, W, C], not float, NaN or infinite, out
      of [0, 1], too small for the patch (or `out_shape` too small for it),
      a bad `out_shape`, or more than the free memory.
    TypeError: `key` is not one PRNG key.
  """
  key = generation._check_key(key, batched=False)  # pylint: disable=protected-access
  clips = _check_clips(clips)
  config = augment_config(config)
  if out_shape is not None:
    config = config._replace(scale=_scale_for(clips.shape[1:4], out_shape))
    config = generation.make_config(config)
  # Checked here, once for the batch, so that errors name the clips.
  levels = generation.plan_levels(clips.shape[1:4], config, clips.shape[4])
  generation._check_memory(levels, clips.shape[4], clips.shape[0], config)  # pylint: disable=protected-access
  return _augment(key, clips, config)


def _path_key(key: jax.Array, path) -> jax.Array:
  """`key` folded with a hash of the path as given: the same file gets the
  same keys wherever it is in the list."""
  return jax.random.fold_in(key, zlib.crc32(os.fsencode(os.fspath(path))))


def stream(key: jax.Array,
           paths: Iterable[str | os.PathLike],
           num_variants: int,
           config: generation.Config | None = None,
           max_size: int | None = None,
           *,
           out_shape: Sequence[int] | None = None
           ) -> Iterator[tuple[str | os.PathLike, int, jax.Array]]:
  """Yields `num_variants` variants of every video file, one at a time.

  Only one input and one variant are held at a time (plus the one the
  caller keeps). Variant `index` of `path` uses
  `fold_in(fold_in(key, crc32(path)), index)`: it does not depend on the
  order of `paths` nor on the other files.

  Args:
    key: one PRNG key.
    paths: video files, frame folders or images (`io.read_video`).
    num_variants: variants per file, >= 1.
    config: as in `augment`.
    max_size: frames taller than this are resized to this height on reading.
    out_shape: as in `augment`.

  Yields:
    (path, index, variant [T, H, W, 3] float32), path as given.

  Raises:
    InputError: an unreadable file, or one `augment` refuses.
  """
  key = generation._check_key(key, batched=False)  # pylint: disable=protected-access
  if not (isinstance(num_variants, (int, np.integer)) and num_variants >= 1):
    raise ValueError(f'num_variants must be an integer >= 1, got '
                     f'{num_variants!r}')
  config = augment_config(config)
  for path in paths:
    video, _ = io.read_video(path, max_size=max_size)
    file_key = _path_key(key, path)
    for index in range(int(num_variants)):
      variant = augment(jax.random.fold_in(file_key, index), video[None],
                        config, out_shape)[0]
      yield path, index, variant
      del variant  # not kept while the next one is made
    del video


def _grain_transform():
  """`AugmentTransform`, defined on first use (grain is optional)."""
  try:
    import grain.python as grain  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError(
        'vgpnn_jax.augment.AugmentTransform needs grain: pip install '
        'grain==0.2.18 (or pip install "vgpnn-jax[dev]")') from e

  class AugmentTransform(grain.RandomMapTransform):
    """A grain random map: each element [T, H, W, C] -> its variant.

    The key comes from grain's per-element generator, so a grain pipeline
    with a seed gives the same variants on every run.
    """

    def __init__(self, config: generation.Config | None = None,
                 out_shape: Sequence[int] | None = None):
      self.config = augment_config(config)
      self.out_shape = None if out_shape is None else tuple(out_shape)

    def random_map(self, element, rng: np.random.Generator) -> np.ndarray:
      """element: [T, H, W, C] float in [0, 1] -> [T', H', W', C] numpy."""
      key = jax.random.key(int(rng.integers(0, 2**32, dtype=np.uint64)))
      variant = augment(key, np.asarray(element)[None], self.config,
                        self.out_shape)
      return np.asarray(variant[0])

  return AugmentTransform


def __getattr__(name: str):
  if name == 'AugmentTransform':
    transform = _grain_transform()
    globals()['AugmentTransform'] = transform
    return transform
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
