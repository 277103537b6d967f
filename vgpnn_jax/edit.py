"""Editing one video from itself: remove, add or move someone, collages.

Every application is a generation with a `generation.Guide` (DESIGN.md §1-2):

* `inpaint`: the hole (a mask) is refilled from patches wholly outside it;
  the output is the input, exactly, outside the hole. Its start is the hole
  filled smoothly from its border (`masks.fill_hole`), or the colours a user
  painted there (a colour cue, `cue_mask`).
* `edit`: a user's rough edit (a person pasted twice, moved, a region copied
  from another frame) is the start of a few levels; the patches come from the
  original (or from another video: a new background), so the result keeps
  the edit's layout with its seams gone. With a mask only the masked region
  may change.

    hole = np.zeros(video.shape[:3], bool); hole[:, 40:90, 100:140] = True
    out = edit.inpaint(jax.random.key(0), video, hole)     # [T, H, W, 3]
    outs = edit.edit(jax.random.split(key, 4), video, pasted)  # [4, T, H, W, 3]

Each takes one key (one output) or `[N]` keys (N outputs, one vmapped run).
`check_video`, `application_config` and `generate_for_keys` are shared with
the other applications (`analogy`).
"""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from vgpnn_jax import errors
from vgpnn_jax import generation
from vgpnn_jax import masks as masks_lib
from vgpnn_jax import memory

# Inpainting: every level (down to ~15 px), from the smooth fill, no noise.
# On three 12-frame clips at 144 px (experiments/inpaint_settings.py,
# results/inpaint_settings.md) the hole's coherence averaged 0.00072 with all
# levels, 0.00085 with 10, 0.00092 with 8 and 0.00118 with 5; noise or a grey
# start were no better on average.
# The cost is the seam (experiments/inpaint_seam.py, results/
# inpaint_seam.md): patches centred >= 4 px inside the border score 0.00029 /
# 0.00022 / 0.00045 on pedestrians / speedway / tree (a variation in the same
# region: 0.00044 / 0.00000 / 0.00061), those within 4 px of it, inside and
# out, 4-7x worse (0.0011-0.0025).
# Weighting the fold's votes (`Config.known_weight`, `match_weight`) moved
# that error into the interior or sharpened the seam: the hole's coherence
# rose on every clip, so the weights stay off; J = 10 at the two finest levels
# changed it by 1-3% (noise) for 8-35% more time. Nor is it the start: with
# the hidden truth as the start the fill is the same from the second-coarsest
# level on.
# No structure guard in the applications: their layout is the input's or
# the edit's.
INPAINT_DEFAULTS = dict(max_levels=None, noise_std=0.0, alpha=None,
                        layout_draws=1)
# With all levels, coarse levels where fewer than this fraction of the key
# patches lie outside the (grown) hole are left out: too few patches to fill
# the hole from.
MIN_VALID_FRACTION = 0.1
# Editing: the edit enters 5 levels up (0.52 of the size at factor 0.85):
# coarse enough to remake seams, fine enough to keep a pasted person.
EDIT_DEFAULTS = dict(max_levels=5, noise_std=0.0, alpha=None, layout_draws=1)

# A painted cue differs from the input by more than this in some channel
# (video compression alone moves 8-bit values by a few steps).
CUE_TOLERANCE = 0.1


def check_video(video: Any, name: str) -> jax.Array:
  """`video` as float32 [T, H, W, C]; InputError naming it otherwise.

  Concrete values must be finite and in [0, 1]
  (`generation.check_video_values`); a traced video is not checked. A video
  too large for the free memory is refused before it is copied
  (`memory.check_array_fits`).
  """
  memory.check_array_fits(np.shape(video), f'the {name}')
  video = jnp.asarray(video)
  if video.ndim != 4 or not jnp.issubdtype(video.dtype, jnp.floating):
    lacks = ('' if video.ndim == 4 else
             f': {generation.missing_axes(video.shape)}')
    raise errors.InputError(
        f'the {name} must be a float video [frames, height, width, channels] '
        f'in [0, 1], got shape {video.shape} dtype {video.dtype}{lacks}')
  if 0 in video.shape:
    raise errors.InputError(
        f'the {name} is empty (shape {video.shape}); give at least one frame')
  generation.check_video_values(video, f'the {name}')
  return video.astype(jnp.float32)


def _check_mask(mask: Any, size: tuple[int, ...], name: str = 'mask'):
  """A [T, H, W] bool mask of `size` with something in it and something out."""
  mask = jnp.asarray(mask)
  if mask.shape != tuple(size):
    raise errors.InputError(
        f'the {name} has shape {mask.shape}, the video {tuple(size)} '
        f'(frames, height, width); give a mask of the video\'s size (or '
        f'read both with the same --max-size and --frames)')
  mask = mask.astype(jnp.bool_)
  if not isinstance(mask, jax.core.Tracer):
    if not bool(jnp.any(mask)):
      raise errors.InputError(
          f'the {name} is empty: nothing to fill or edit; mark the region '
          f'with nonzero (white) voxels')
    if bool(jnp.all(mask)):
      raise errors.InputError(
          f'the {name} covers the whole video: no patch is left to fill it '
          f'from; mark only the region to change')
  return mask


def application_config(config: generation.Config | None, defaults: dict,
                       overrides: dict,
                       num_frames: int) -> generation.Config:
  """`config` (or the library's for `num_frames`, `generation.default_config`)
  with an application's defaults (e.g. `INPAINT_DEFAULTS`), then the caller's
  overrides."""
  if config is None:
    config = generation.default_config(num_frames)
  return generation.make_config(config, **{**defaults, **overrides})


def generate_for_keys(key, video, config, guide, progress):
  """`generation.generate` for one key, `generate_batch` for [N] keys."""
  key = jnp.asarray(key)
  raw = not jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
  if key.ndim == (2 if raw else 1):
    return generation.generate_batch(key, video, config, progress=progress,
                                     guide=guide)
  return generation.generate(key, video, config, progress=progress,
                             guide=guide)


def _check_cue(cue: Any, video: jax.Array) -> jax.Array:
  """A painted copy of `video`, as float32 (InputError if of another shape)."""
  cue = check_video(cue, 'cue')
  if cue.shape != video.shape:
    raise errors.InputError(
        f'the cue has shape {cue.shape}, the video {video.shape}; paint '
        f'over a copy of the video itself')
  return cue


def cue_mask(painted: Any, video: Any,
             tolerance: float = CUE_TOLERANCE) -> jax.Array:
  """Where a painted copy of a video differs from it: the cue's hole.

  Args:
    painted: [T, H, W, C] the video with the hole painted over.
    video: [T, H, W, C] the video.
    tolerance: a voxel is painted where some channel differs by more.

  Returns:
    [T, H, W] bool.

  Raises:
    InputError: when the shapes differ or nothing was painted.
  """
  video = check_video(video, 'video')
  painted = _check_cue(painted, video)
  mask = jnp.any(jnp.abs(painted - video) > tolerance, axis=-1)
  if not isinstance(mask, jax.core.Tracer) and not bool(jnp.any(mask)):
    raise errors.InputError(
        'the cue is identical to the video: nothing was painted; paint the '
        'hole with the colours it should take (or give --mask)')
  return mask


def inpaint(key: jax.Array,
            video: Any,
            mask: Any,
            config: generation.Config | None = None,
            *,
            cue: Any = None,
            blend_seams: bool = False,
            progress: generation.ProgressFn | None = None,
            **overrides) -> jax.Array:
  """Fills a hole from the rest of the video: removes someone.

  Args:
    key: a PRNG key, or [N] keys for N fills.
    video: [T, H, W, C] float video in [0, 1].
    mask: [T, H, W], nonzero in the hole.
    config: a `generation.Config`; `INPAINT_DEFAULTS` and `**overrides` are
      applied over it.
    cue: optional [T, H, W, C] colours painted in the hole (only its values
      in the hole are used): the fill follows them. By default the hole
      starts filled smoothly from its border.
    blend_seams: shift the fill smoothly to meet its border
      (`masks.blend_seams`): a hole over a surface whose shading drifts (a
      lit path) then no longer shows as a flat box, but its patches are
      shifted from the input's (the hole's coherence rises).
    progress: as in `generation.generate`.
    **overrides: `Config` fields.

  Returns:
    [T, H, W, C] (or [N, T, H, W, C]): equal to `video` outside the hole;
    inside, content whose every patch (at every level) comes from patches
    wholly outside the hole (shifted in shade with `blend_seams`).

  Raises:
    InputError: a mask of another size, an empty or full mask, one that
      leaves no patch outside it at the coarsest level.
  """
  video = check_video(video, 'video')
  mask = _check_mask(mask, video.shape[:3])
  if cue is None:
    start = masks_lib.fill_hole(video, mask)
  else:
    start = jnp.where(mask[..., None], _check_cue(cue, video), video)
  guide = generation.Guide(start=start, free=mask, known=video,
                           source_hole=mask)
  config = application_config(config, INPAINT_DEFAULTS, overrides,
                              video.shape[0])
  if config.max_levels is None and not isinstance(mask, jax.core.Tracer):
    config = config._replace(max_levels=usable_levels(mask, video, config))
  output = generate_for_keys(key, video, config, guide, progress)
  if not blend_seams:
    return output
  if output.ndim == 4:
    return masks_lib.blend_seams(output, mask)
  return jnp.stack([masks_lib.blend_seams(one, mask) for one in output])


def usable_levels(mask: jax.Array, video: jax.Array,
                   config: generation.Config) -> int:
  """The most levels whose coarsest keeps `MIN_VALID_FRACTION` valid keys.

  Args:
    mask: [T, H, W] bool hole (concrete).
    video: [T, H, W, C] the video.
    config: the inpainting's config (its `max_levels` is ignored).

  Returns:
    The `max_levels` `inpaint` uses when given None.
  """
  levels = generation.plan_levels(video.shape[:3], config, video.shape[3])
  for count in range(len(levels), 1, -1):
    level = levels[count - 1]
    hole = masks_lib.resize_mask(mask, level.input_size)
    valid = masks_lib.valid_patches(hole, level.patch_size)
    if float(jnp.mean(valid)) >= MIN_VALID_FRACTION:
      return count
  return 1


def _values_video(original, values, with_original, num_frames, patch_frames):
  """The video the patches come from, and the frames where a video begins."""
  if values is None:
    return original, ()
  values = check_video(values, 'values video')
  if values.shape[1:] != original.shape[1:]:
    raise errors.InputError(
        f'the values video has frames of {values.shape[1]}x{values.shape[2]}'
        f'x{values.shape[3]}, the edit {original.shape[1]}x'
        f'{original.shape[2]}x{original.shape[3]}; resize it to the same '
        f'frame size (e.g. the same --max-size on a video of the same aspect)')
  if values.shape[0] == 1 and num_frames > 1:
    # An image: a still background for every frame.
    values = jnp.repeat(values, max(num_frames, patch_frames), axis=0)
  if not with_original:
    return values, ()
  # Joined in time; no patch may straddle the cut between the two.
  return jnp.concatenate([original, values]), (original.shape[0],)


def edit(key: jax.Array,
         original: Any,
         edited: Any,
         config: generation.Config | None = None,
         *,
         mask: Any = None,
         values: Any = None,
         with_original: bool = False,
         progress: generation.ProgressFn | None = None,
         **overrides) -> jax.Array:
  """Makes a rough edit coherent: added, moved or copied content, collages.

  The edit is the start of the coarsest of `max_levels` levels (the edit's
  layout is kept above that scale, its seams are remade below), and every
  patch comes from the original video, or from `values`.

  Args:
    key: a PRNG key, or [N] keys for N results.
    original: [T, H, W, C] float video in [0, 1].
    edited: [T, H, W, C] the user's edit of it.
    config: a `generation.Config`; `EDIT_DEFAULTS` and `**overrides` are
      applied over it (`max_levels` is the level the edit enters at).
    mask: optional [T, H, W], nonzero where the output may change; elsewhere
      it is `edited`, exactly.
    values: optional [T2, H, W, C] video (or [1, H, W, C] image) whose
      patches render the edit instead of the original's: a person pasted
      onto this scene gets its background.
    with_original: with `values`, take patches from both videos.
    progress: as in `generation.generate`.
    **overrides: `Config` fields.

  Returns:
    [T, H, W, C] (or [N, T, H, W, C]).

  Raises:
    InputError: an edit, mask or values video of another size, an empty or
      full mask.
  """
  original = check_video(original, 'original')
  edited = check_video(edited, 'edit')
  if edited.shape != original.shape:
    raise errors.InputError(
        f'the edit has shape {edited.shape}, the original {original.shape}; '
        f'edit a copy of the original at its size')
  if mask is not None:
    mask = _check_mask(mask, original.shape[:3])
  config = application_config(config, EDIT_DEFAULTS, overrides,
                              original.shape[0])
  patch = generation.patch_size_for(config, original.shape[0])
  source, cuts = _values_video(original, values, with_original,
                              original.shape[0], patch[0])
  scale = tuple(n / m for n, m in zip(edited.shape[:3], source.shape[:3]))
  guide = generation.Guide(start=edited, free=mask,
                           known=None if mask is None else edited,
                           source_cuts=cuts)
  config = config._replace(scale=scale)
  return generate_for_keys(key, source, config, guide, progress)
