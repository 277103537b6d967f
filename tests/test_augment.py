"""Tests of `vgpnn_jax.augment`: augment, stream and the grain transform."""

import functools
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vgpnn_jax import augment as augment_lib
from vgpnn_jax import errors
from vgpnn_jax import io
from vgpnn_jax import metrics

# Small and fast: 2 levels of 3x5x5 patches, mean fold (the median's sort
# doubled each compilation); AUGMENT_DEFAULTS otherwise.
_CONFIG = augment_lib.augment_config(max_levels=2, patch_size=(3, 5, 5),
                                     min_side=10, reduce='mean')
_PATCH = (3, 5, 5)
_SAMPLE = pathlib.Path(augment_lib.__file__).parent / 'data' / 'bunny.mp4'


@functools.lru_cache(maxsize=None)
def _clips() -> np.ndarray:
  """[2, 5, 16, 20, 3] two cuts of the bundled bunny."""
  video, _ = io.read_video(_SAMPLE, max_size=24, stop=10)
  return np.stack([video[:5, 4:20, 4:24], video[5:, 2:18, 12:32]])


@functools.lru_cache(maxsize=None)
def _eager(seed: int = 0) -> np.ndarray:
  return np.asarray(augment_lib.augment(jax.random.key(seed), _clips(),
                                        _CONFIG))


def test_shape_range_and_determinism():
  out = _eager(0)
  assert out.shape == _clips().shape and out.dtype == np.float32
  assert out.min() >= 0 and out.max() <= 1
  again = augment_lib.augment(jax.random.key(0), _clips(), _CONFIG)
  np.testing.assert_array_equal(np.asarray(again), out)  # bit for bit
  other = _eager(1)
  assert np.mean(np.abs(other - out)) > 0.01
  # Each clip gets its own key: not the same variant of the two clips' look.
  assert not np.array_equal(out[0], out[1])


def test_variant_is_made_of_input_patches():
  clips, out = _clips(), _eager(0)
  rng = np.random.default_rng(0)
  for clip, variant in zip(clips, out):
    assert np.mean(np.abs(variant - clip)) > 0.02  # not a copy
    near = float(metrics.coherence(variant, clip, patch_size=_PATCH))
    # The same values at random places: far from every input patch.
    shuffled = rng.permutation(clip.reshape(-1, 3)).reshape(clip.shape)
    far = float(metrics.coherence(shuffled, clip, patch_size=_PATCH))
    assert near < 0.2 * far, (near, far)


def test_jit_equals_eager():
  jitted = jax.jit(augment_lib.augment, static_argnames=('config',
                                                         'out_shape'))
  out = jitted(jax.random.key(0), jnp.asarray(_clips()), _CONFIG)
  np.testing.assert_array_equal(np.asarray(out), _eager(0))


def test_vmap_equals_eager():
  keys = jax.random.split(jax.random.key(3), 2)
  batches = np.stack([_clips(), _clips()[::-1]])  # [2, B, T, H, W, C]
  out = jax.vmap(lambda k, c: augment_lib.augment(k, c, _CONFIG))(keys,
                                                                  batches)
  for key, batch, got in zip(keys, batches, out):
    want = augment_lib.augment(key, batch, _CONFIG)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_out_shape():
  out = augment_lib.augment(jax.random.key(0), _clips(), _CONFIG,
                            out_shape=(4, 14, 26))
  assert out.shape == (2, 4, 14, 26, 3)
  assert float(jnp.min(out)) >= 0 and float(jnp.max(out)) <= 1


@pytest.mark.parametrize('clips, out_shape, match', [
    (np.zeros((5, 16, 20, 3), np.float32), None, 'add the batch axis'),
    (np.zeros((2, 5, 16, 20, 3), np.uint8), None, 'divide uint8'),
    (np.full((2, 5, 16, 20, 3), np.nan, np.float32), None, 'NaN'),
    (np.full((2, 5, 16, 20, 3), 255.0, np.float32), None, 'divide 8-bit'),
    (np.zeros((2, 2, 16, 20, 3), np.float32), None, 'fewer than the 3-frame'),
    (np.zeros((2, 5, 4, 20, 3), np.float32), None, 'smaller than the'),
    (np.zeros((2, 5, 16, 20, 3), np.float32), (4, 16), 'three positive'),
    (np.zeros((2, 5, 16, 20, 3), np.float32), (1, 16, 20), 'patch'),
])
def test_bad_input_raises_input_error(clips, out_shape, match):
  with pytest.raises(errors.InputError, match=match):
    augment_lib.augment(jax.random.key(0), clips, _CONFIG, out_shape)


def test_bad_key():
  with pytest.raises(TypeError):
    augment_lib.augment(0, _clips(), _CONFIG)


@pytest.fixture(scope='module')
def two_files(tmp_path_factory):
  folder = tmp_path_factory.mktemp('stream')
  paths = []
  for name, clip in zip(('a', 'b'), _clips()):
    # Frame folders: read back exactly (8-bit), unlike a lossy video file.
    path = folder / name
    path.mkdir()
    for t, frame in enumerate(clip):
      io.write_video(path / f'{t + 1}.png', frame[None], fps=10)
    paths.append(str(path))
  return paths


def test_stream_count_shapes_and_order(two_files):
  key = jax.random.key(5)
  got = {(p, i): np.asarray(v)
         for p, i, v in augment_lib.stream(key, two_files, 2, _CONFIG)}
  assert sorted(got) == [(p, i) for p in two_files for i in range(2)]
  assert all(v.shape == (5, 16, 20, 3) for v in got.values())
  assert not np.array_equal(got[two_files[0], 0], got[two_files[0], 1])
  # Reversed order, one file alone: the same variants.
  for p, i, v in augment_lib.stream(key, two_files[::-1], 2, _CONFIG):
    np.testing.assert_array_equal(np.asarray(v), got[p, i])
  (p, i, v), = augment_lib.stream(key, two_files[1:], 1, _CONFIG)
  np.testing.assert_array_equal(np.asarray(v), got[two_files[1], 0])


def test_stream_is_lazy_and_checks_count(two_files):
  gen = augment_lib.stream(jax.random.key(0), iter(['/no/such/file.mp4']),
                           1, _CONFIG)
  with pytest.raises(errors.InputError, match='not found'):
    next(gen)  # nothing is read before the first item is asked for
  with pytest.raises(ValueError, match='num_variants'):
    next(augment_lib.stream(jax.random.key(0), two_files, 0, _CONFIG))


def test_grain_transform(two_files):
  grain = pytest.importorskip('grain.python')
  del two_files
  clip = _clips()[0]
  dataset = grain.MapDataset.source([clip, clip]).random_map(
      augment_lib.AugmentTransform(_CONFIG), seed=7)
  first = [np.asarray(x) for x in dataset]
  again = [np.asarray(x) for x in dataset]
  assert first[0].shape == clip.shape
  np.testing.assert_array_equal(first[0], again[0])
  assert not np.array_equal(first[0], first[1])  # one key per element


def test_grain_missing_says_how_to_install(monkeypatch):
  monkeypatch.setitem(sys.modules, 'grain', None)
  monkeypatch.setitem(sys.modules, 'grain.python', None)
  monkeypatch.delitem(vars(augment_lib), 'AugmentTransform', raising=False)
  with pytest.raises(ImportError, match='pip install grain'):
    augment_lib.AugmentTransform  # pylint: disable=pointless-statement
