"""Tests that define the editing applications: inpainting, cues, edits."""

import jax
import numpy as np
import pytest

from vgpnn_jax import edit
from vgpnn_jax import errors
from vgpnn_jax import metrics
from vgpnn_jax import patches as patches_lib
from vgpnn_jax import pnn

# Small and fast: 3 levels of exact search with 3x5x5 patches. One
# iteration, as at the coarsest level: a level's iteration program is then
# the same whether it is the coarsest or not, and shared across level counts.
_FAST = dict(patch_size=(3, 5, 5), max_levels=3, num_iters=1,
             search='exact')


def _texture(shape=(6, 24, 32), period=(6, 8), seed=0):
  """A repeated random tile (a texture with hidden truth), moving in time."""
  rng = np.random.default_rng(seed)
  tile = rng.random(period + (3,)).astype(np.float32)
  t, h, w = shape
  frames = [np.roll(np.tile(tile, (h // period[0] + 1, w // period[1] + 1,
                                   1))[:h, :w], k, axis=1) for k in range(t)]
  return np.stack(frames)


def _hole(shape, t=(0, 6), y=(8, 16), x=(12, 22)):
  mask = np.zeros(shape, bool)
  mask[t[0]:t[1], y[0]:y[1], x[0]:x[1]] = True
  return mask


@pytest.fixture(name='texture', scope='module')
def _texture_fixture():
  return _texture()


def test_inpaint_keeps_outside_exactly_and_refills_the_hole(texture):
  video = texture.copy()
  hole = _hole(video.shape[:3])
  # What the hole hid has a colour found nowhere else: no patch from inside
  # the hole may bring it back.
  video[hole] = np.array([1.0, 0.0, 1.0], np.float32) * 1.5
  out = np.asarray(edit.inpaint(jax.random.key(0), video, hole, **_FAST))
  assert out.shape == video.shape and out.dtype == np.float32
  np.testing.assert_array_equal(out[~hole], video[~hole])
  assert out[hole].max() <= 1.0  # only values from outside the hole
  assert not np.allclose(out[hole], video[hole])
  assert out[hole].std() > 0.1  # content, not a flat fill
  # Blended, it is the same fill shifted to meet its border.
  blended = np.asarray(edit.inpaint(jax.random.key(0), video, hole,
                                    blend_seams=True, **_FAST))
  np.testing.assert_array_equal(blended[~hole], video[~hole])
  np.testing.assert_array_equal(
      blended, edit.masks_lib.blend_seams(out, hole))


@pytest.mark.parametrize('weights', [dict(known_weight=4.0),
                                     dict(match_weight=1.0)])
def test_weighted_votes_keep_outside_exactly(texture, weights):
  hole = _hole(texture.shape[:3])
  out = np.asarray(edit.inpaint(jax.random.key(0), texture, hole, **weights,
                                **_FAST))
  np.testing.assert_array_equal(out[~hole], texture[~hole])
  # The repeated texture is still found: the weights move the votes, not
  # where the patches come from.
  assert np.abs(out[hole] - texture[hole]).mean() < 0.05


def test_inpaint_of_a_repeated_texture_finds_the_texture(texture):
  hole = _hole(texture.shape[:3])
  out = np.asarray(edit.inpaint(jax.random.key(1), texture, hole, **_FAST))
  error = np.abs(out[hole] - texture[hole]).mean()
  start_error = np.abs(np.asarray(edit.masks_lib.fill_hole(
      texture, hole))[hole] - texture[hole]).mean()
  # The smooth start is far from the texture; the fill recovers it.
  assert start_error > 0.15  # 0.26 measured
  assert error < 0.05, error  # 0.0 measured (3 levels, 1 iteration)


def test_inpaint_is_deterministic_and_batches(texture):
  hole = _hole(texture.shape[:3])
  # Noise makes the key matter. 2 levels (a coarsest and a finer one): the
  # noise and the batch make their own programs, the fewer the cheaper.
  options = {**_FAST, 'max_levels': 2, 'noise_std': 0.5}
  a = np.asarray(edit.inpaint(jax.random.key(3), texture, hole, **options))
  b = np.asarray(edit.inpaint(jax.random.key(3), texture, hole, **options))
  np.testing.assert_array_equal(a, b)
  keys = jax.random.split(jax.random.key(3), 2)
  batch = np.asarray(edit.inpaint(keys, texture, hole, **options))
  assert batch.shape == (2,) + texture.shape
  for out in batch:
    np.testing.assert_array_equal(out[~hole], texture[~hole])


def test_patchmatch_and_exact_inpaint_agree(texture):
  hole = _hole(texture.shape[:3])
  errors_by_search = {}
  for search in ('exact', 'patchmatch'):
    # 2 levels: PatchMatch's programs are its own.
    out = np.asarray(edit.inpaint(jax.random.key(4), texture, hole,
                                  **{**_FAST, 'max_levels': 2,
                                     'search': search}))
    np.testing.assert_array_equal(out[~hole], texture[~hole])
    errors_by_search[search] = float(metrics.coherence(
        out, texture, patch_size=(3, 5, 5), mask=hole))
  # Stated factor: PatchMatch's hole at most 3x less coherent (+ a floor).
  # Measured on these 2 levels: 0.0 for both.
  assert errors_by_search['patchmatch'] <= (
      3 * errors_by_search['exact'] + 2e-3), errors_by_search


@pytest.mark.parametrize('search', ['exact', 'patchmatch'])
def test_level_step_chooses_only_valid_key_patches(search):
  rng = np.random.default_rng(5)
  keys = rng.random((5, 14, 16, 3)).astype(np.float32)
  queries = rng.random((5, 12, 12, 3)).astype(np.float32)
  patch = (3, 5, 5)
  hole = _hole(keys.shape[:3], (0, 2), (3, 11), (4, 12))
  valid = np.asarray(edit.masks_lib.valid_patches(hole, patch))
  assert valid.any() and not valid.all()
  fixed = np.full(queries.shape, np.nan, np.float32)
  fixed[:, :4] = queries[:, :4]
  out, field = pnn.level_step(jax.random.key(0), queries, keys, keys,
                              patch_size=patch, num_iters=2, search=search,
                              key_valid=valid, fixed=fixed)
  field = np.asarray(field)
  assert valid[field[..., 0], field[..., 1], field[..., 2]].all()
  np.testing.assert_array_equal(np.asarray(out)[:, :4], queries[:, :4])
  # Without the restriction some queries choose patches in the hole.
  _, free_field = pnn.level_step(jax.random.key(0), queries, keys, keys,
                                 patch_size=patch, num_iters=2, search=search)
  free_field = np.asarray(free_field)
  assert not valid[free_field[..., 0], free_field[..., 1],
                   free_field[..., 2]].all()


def test_cue_steers_the_fill():
  rng = np.random.default_rng(6)
  # The texture's shape and hole: the programs the tests above compiled.
  video = np.zeros((6, 24, 32, 3), np.float32)
  # Left: a noisy red texture, right: a noisy blue one; the hole spans both.
  video[:, :, :16, 0] = 0.7 + 0.2 * rng.random((6, 24, 16))
  video[:, :, 16:, 2] = 0.7 + 0.2 * rng.random((6, 24, 16))
  hole = _hole(video.shape[:3])
  reds = {}
  for name, colour in (('red', [0.8, 0, 0]), ('blue', [0, 0, 0.8])):
    cue = video.copy()
    cue[hole] = colour
    out = np.asarray(edit.inpaint(jax.random.key(0), video, hole, cue=cue,
                                  **_FAST))
    np.testing.assert_array_equal(out[~hole], video[~hole])
    reds[name] = (out[hole][:, 0] > out[hole][:, 2]).mean()
  # Measured: 0.94 and 0.10 of the hole's voxels more red than blue.
  assert reds['red'] > 0.8 and reds['blue'] < 0.2, reds


def test_cue_mask_is_where_the_paint_differs(texture):
  hole = _hole(texture.shape[:3])
  painted = texture.copy()
  painted[hole] = (texture[hole] + 0.5) % 1.0  # 0.5 away in every channel
  painted[~hole] += 0.05  # compression noise is not paint
  np.testing.assert_array_equal(
      np.asarray(edit.cue_mask(painted, texture)), hole)


def test_cue_identical_to_the_video_is_refused(texture):
  with pytest.raises(errors.InputError, match='identical'):
    edit.cue_mask(texture, texture)


@pytest.mark.parametrize('mask, match', [
    (np.zeros((6, 24, 30), bool), 'shape'),
    (np.zeros((6, 24, 32), bool), 'empty'),
    (np.ones((6, 24, 32), bool), 'whole video'),
])
def test_inpaint_refuses_bad_masks(texture, mask, match):
  with pytest.raises(errors.InputError, match=match):
    edit.inpaint(jax.random.key(0), texture, mask, **_FAST)


def test_inpaint_refuses_a_hole_that_leaves_no_patch(texture):
  mask = np.ones(texture.shape[:3], bool)
  mask[:, :3, :3] = False  # smaller than a 5x5 patch
  with pytest.raises(errors.InputError, match='no .* patch'):
    edit.inpaint(jax.random.key(0), texture, mask, **_FAST)


def _scene(seed=7):
  """A moving textured background with a bright square (the 'person')."""
  video = _texture((6, 32, 40), (8, 10), seed) * 0.5
  for t in range(6):
    video[t, 10:18, 4 + t:12 + t] = [0.9, 0.8, 0.2]
  return video


def test_edit_keeps_the_pasted_object_and_heals_its_seams():
  original = _scene()
  edited = original.copy()
  # A rough paste: the square with a block of its surroundings, shifted in
  # brightness so that its border is a seam.
  edited[:, 12:24, 22:34] = np.clip(original[:, 8:20, 2:14] * 1.15 + 0.05,
                                    0, 1)
  region = np.zeros(original.shape[:3], bool)
  region[:, 14:22, 26:32] = True
  out = np.asarray(edit.edit(jax.random.key(0), original, edited,
                             patch_size=(3, 5, 5), max_levels=3,
                             search='exact'))
  assert out.shape == original.shape
  to_edit = np.abs(out[region] - edited[region]).mean()
  to_original = np.abs(out[region] - original[region]).mean()
  assert to_edit < 0.75 * to_original, (to_edit, to_original)
  coherence = lambda v: float(metrics.coherence(v, original,
                                                patch_size=(3, 5, 5)))
  assert coherence(out) < 0.75 * coherence(edited)


def test_edit_with_a_mask_changes_only_the_mask():
  original = _scene()
  edited = original.copy()
  edited[:, 12:24, 22:34] = original[:, 8:20, 2:14]
  mask = np.zeros(original.shape[:3], bool)
  mask[:, 10:26, 20:36] = True
  # 2 levels: a coarsest and a finer one, each pasted into the edit.
  out = np.asarray(edit.edit(jax.random.key(0), original, edited, mask=mask,
                             **{**_FAST, 'max_levels': 2}))
  np.testing.assert_array_equal(out[~mask], edited[~mask])


def test_edit_with_other_values_takes_their_patches():
  original = _scene()
  edited = original.copy()
  edited[:, 12:24, 22:34] = original[:, 8:20, 2:14]
  # Another scene, of other colours: the output is made of its patches.
  other = 0.5 + 0.5 * _texture((4, 32, 40), (8, 10), seed=9)
  # 2 levels: each source's length makes programs of its own.
  options = {**_FAST, 'max_levels': 2}
  out = np.asarray(edit.edit(jax.random.key(0), original, edited,
                             values=other, **options))
  assert out.shape == original.shape
  assert out.min() >= other.min() - 1e-6
  both = np.asarray(edit.edit(jax.random.key(0), original, edited,
                              values=other[:1], with_original=True,
                              **options))
  assert both.shape == original.shape


def test_edit_refuses_mismatched_inputs():
  original = _scene()
  with pytest.raises(errors.InputError, match='edit has shape'):
    edit.edit(jax.random.key(0), original, original[:, :30], **_FAST)
  with pytest.raises(errors.InputError, match='frame size'):
    edit.edit(jax.random.key(0), original, original,
              values=original[:, :30], **_FAST)
  with pytest.raises(errors.InputError, match='empty'):
    edit.edit(jax.random.key(0), original, original,
              mask=np.zeros(original.shape[:3], bool), **_FAST)


def test_inpaint_leaves_out_levels_too_coarse_for_the_hole(texture):
  video = texture
  # A 10x20 hole in 24x32 frames, 6 levels planned: key patches wholly
  # outside the (resized) hole are 40%, 25%, 7% of them at the finest 3
  # levels, none at the coarsest 3. The third is left out for the 10% rule,
  # not for lack of any patch.
  hole = _hole(video.shape[:3], (0, 6), (6, 16), (6, 26))
  options = {k: v for k, v in _FAST.items() if k != 'max_levels'}
  planned = edit.generation.plan_levels(
      video.shape[:3], edit.generation.make_config(**options))
  used = []
  out = np.asarray(edit.inpaint(
      jax.random.key(0), video, hole,
      progress=lambda done, num, level, output: used.append(num), **options))
  assert 1 < used[0] < len(planned), (used[0], len(planned))
  np.testing.assert_array_equal(out[~hole], video[~hole])
  # Asked for every level, the coarsest has no patch outside the hole.
  with pytest.raises(errors.InputError, match='no .* patch'):
    edit.inpaint(jax.random.key(0), video, hole, max_levels=len(planned),
                 **options)


def test_no_patch_spans_the_cut_between_joined_videos():
  # 8 frames, the second video from frame 4; 3-frame patches.
  np.testing.assert_array_equal(
      edit.generation._across_cuts((4,), 8, 8, 3),
      [False, False, True, True, False, False])
  # A level of 6 frames: frame k's centre (k + 0.5) * 8 / 6 decides its video.
  np.testing.assert_array_equal(
      edit.generation._across_cuts((4,), 8, 6, 3),
      [False, True, True, False])


def test_inputs_must_be_finite_and_in_the_unit_range(texture):
  key = jax.random.key(0)
  hole = _hole(texture.shape[:3])
  with pytest.raises(errors.InputError, match='divide 8-bit values'):
    edit.inpaint(key, texture * 255, hole, **_FAST)
  broken = texture.copy()
  broken[1, 2, 3, 0] = np.inf
  with pytest.raises(errors.InputError, match='the edit holds NaN or inf'):
    edit.edit(key, texture, broken, **_FAST)
  with pytest.raises(errors.InputError, match='down to -1'):
    edit.edit(key, texture, texture, values=texture - 1.5, **_FAST)
  with pytest.raises(errors.InputError, match='channel axis'):
    edit.check_video(texture[..., 0], 'video')
  # A traced video is not checked (and not refused).
  jax.jit(lambda v: edit.check_video(v, 'video'))(texture * 255)


def test_inpaint_only_searches_around_the_hole(texture, monkeypatch):
  """Cost follows the hole: the fine levels fold only the hole's box."""
  shapes = []
  fold = patches_lib.fold_field

  def recording_fold(field, values, patch_size, **kwargs):
    shapes.append(field.shape[:3])
    return fold(field, values, patch_size, **kwargs)

  monkeypatch.setattr(patches_lib, 'fold_field', recording_fold)
  video = _texture((6, 40, 48), seed=1)
  hole = _hole(video.shape[:3], (0, 6), (16, 22), (20, 26))
  # Last in the file: clearing the caches (so that every program is traced
  # here, with the recording fold) drops the programs of the tests above.
  jax.clear_caches()
  # 2 levels: the finest, whose grid is asserted, and a coarser one.
  edit.inpaint(jax.random.key(0), video, hole, **{**_FAST, 'max_levels': 2})
  jax.clear_caches()
  # The finest level's grid: the hole's box (6x6 pixels, all 6 frames) grown
  # by a patch less one (4) on each side, 6x14x14, holds a 4x10x10 grid of
  # patches, not the whole video's 4x36x44.
  assert (4, 10, 10) in shapes, shapes
  assert all(s[1] < 36 for s in shapes), shapes
