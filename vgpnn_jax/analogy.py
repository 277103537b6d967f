"""Analogies: the layout and motion of one video in the look of another.

`analogy(key, structure, appearance)` renders the structure video A with the
patches of the appearance video B (DESIGN.md §2, VGPNN's video analogies):

* both videos get a motion cue (`motion.motion_cue`: quantised optical-flow
  magnitude, no learned weights), times `structure_weight`;
* the generation starts from A's frames at the coarsest level (their colours
  matched to B's mean and spread, so that the colour term compares like with
  like), and over the coarse half of the levels every query patch carries
  A's cue and every key patch B's as an extra channel (`generation.Guide`'s
  `query_cue` / `key_cue`): a moving region of A takes moving patches of B,
  a still one still patches; the finer levels refine with B's patches only;
* the completeness term (alpha = 1) makes the output use all of B's look.

`sketch(key, drawing, appearance)` is an analogy whose structure is a sketch
(flat colours, one per region) with the paper's sketch parameters, and for
two images (one frame each) `analogy` is GPNN's structural analogy: A's
layout, B's patches, no motion cue.

    out = analogy.analogy(jax.random.key(0), balloons, trees)  # [T, H, W, 3]

The output has the structure's size and length. An appearance of another
height is resized to the structure's height (its aspect kept) and rendered at
the structure's width and length, as a retargeting.
"""

from typing import Any

import jax
import jax.numpy as jnp

from vgpnn_jax import edit
from vgpnn_jax import errors
from vgpnn_jax import generation
from vgpnn_jax import motion
from vgpnn_jax import resampling

# The paper's analogy parameters: 3x5x5 patches, factor 0.9 in time and
# space down to 3 frames / 20 px, one iteration per level, no noise (the
# structure is the start), completeness on every exact level.
ANALOGY_DEFAULTS = dict(
    patch_size=(3, 5, 5), time_factor=0.9, space_factor=0.9, min_frames=3,
    min_side=20, num_iters=1, coarsest_iters=1, noise_std=0.0, alpha=1.0,
    alpha_levels=None, max_levels=None, layout_draws=1)
# Sketch-to-video: factor 0.78 down to 5 frames / 35 px (a sketch has no
# detail below that), J = 3 but 1 at the two finest levels.
SKETCH_DEFAULTS = dict(
    ANALOGY_DEFAULTS, time_factor=0.78, space_factor=0.78, min_frames=5,
    min_side=35, num_iters=3, coarsest_iters=3, finest_iters=(1, 1))
# Two images: GPNN's image method from the structure, on 6 levels (the
# coarsest about a quarter of the size) and without completeness. On three
# pairs of frames at 144 px the output's layout (grey at 12 px) correlated
# 0.61-0.71 with the structure's, against 0.22-0.47 on 9 levels, with
# coherence 0.0002-0.0005 (experiments/results/image_analogy_levels.md).
IMAGE_ANALOGY_DEFAULTS = dict(generation.IMAGE_DEFAULTS, noise_std=0.0,
                              max_levels=6, alpha=None)

# The cue's weight against the colours: a cue step from still to the fastest
# motion counts as much as a full step in one colour channel.
DEFAULT_STRUCTURE_WEIGHT = 1.0
# Motion cue levels (the paper: 4 to 8).
DEFAULT_CUE_BINS = 4
# The flow behind the cue, for real footage: Lucas-Kanade's stricter
# reliability threshold (noisy video, experiments/results/flow_accuracy.md)
# and flow under half a pixel per frame counted as still. On speedway ->
# tree and pedestrians -> speedway at 96 px the output's cue correlated 0.25
# and 0.42 with the structure's, against 0.22 and 0.01 with the motion
# module's defaults, whose static regions read as half moving.
CUE_FLOW = dict(min_eigenvalue=1e-4, min_motion=0.5)
# A sketch whose colours spread less than this (std over all voxels, every
# channel) has a single colour: no layout to follow.
MIN_SKETCH_SPREAD = 0.02


def match_colours(video: jax.Array, reference: jax.Array) -> jax.Array:
  """`video` with each channel's mean and std made the reference's.

  Args:
    video: [T, H, W, C] float in [0, 1].
    reference: [T2, H2, W2, C] float in [0, 1].

  Returns:
    [T, H, W, C] float32, clipped to [0, 1].
  """
  moments = lambda x: (jnp.mean(x, (0, 1, 2), keepdims=True),
                       jnp.std(x, (0, 1, 2), keepdims=True))
  (mean, std), (ref_mean, ref_std) = moments(video), moments(reference)
  # A flat channel is only moved to the reference's mean.
  gain = jnp.where(std > 1e-6, ref_std / jnp.maximum(std, 1e-6), 1.0)
  return jnp.clip((video - mean) * gain + ref_mean, 0.0, 1.0)


def fit_appearance(appearance: jax.Array,
                   structure_size: tuple[int, int, int]) -> jax.Array:
  """The appearance at the structure's height, its aspect ratio kept.

  Args:
    appearance: [T2, H2, W2, C].
    structure_size: (T, H, W) of the structure.

  Returns:
    [T2, H, round(W2 * H / H2), C] (the appearance itself if H2 == H).
  """
  _, height, _ = structure_size
  t2, h2, w2, c = appearance.shape
  if h2 == height:
    return appearance
  width = max(1, round(w2 * height / h2))
  return resampling.resize(appearance, (t2, height, width, c))


def render_config(structure_size: tuple[int, int, int],
                  appearance_size: tuple[int, int, int], defaults: dict,
                  config: generation.Config | None = None,
                  overrides: dict | None = None) -> generation.Config:
  """The config of an analogy: `defaults` and `overrides` over `config`, at
  the scale that makes the (fitted) appearance the structure's size.

  Raises:
    InputError: when the structure is shorter, lower or narrower than the
      patch.
  """
  config = edit.application_config(config, defaults, overrides or {},
                                   structure_size[0])
  patch = generation.patch_size_for(config, structure_size[0])
  if structure_size[0] < patch[0]:
    raise errors.InputError(
        f'the structure has {structure_size[0]} frame(s), fewer than the '
        f'{patch[0]}-frame patch; give at least {patch[0]} frames')
  if structure_size[1] < patch[1] or structure_size[2] < patch[2]:
    raise errors.InputError(
        f'the structure is {structure_size[1]}x{structure_size[2]} pixels, '
        f'smaller than the {patch[1]}x{patch[2]} patch; give a larger '
        f'structure or a smaller patch')
  return config._replace(scale=tuple(
      s / a for s, a in zip(structure_size, appearance_size)))


def analogy(key: jax.Array,
            structure: Any,
            appearance: Any,
            config: generation.Config | None = None,
            *,
            structure_weight: float = DEFAULT_STRUCTURE_WEIGHT,
            cue_levels: int | None = None,
            cue_bins: int = DEFAULT_CUE_BINS,
            match_start_colours: bool = True,
            progress: generation.ProgressFn | None = None,
            **overrides) -> jax.Array:
  """The structure's layout and motion rendered with the appearance's patches.

  Args:
    key: a PRNG key, or [N] keys for N results (one vmapped run).
    structure: [T, H, W, C] float video in [0, 1] (A: layout and motion).
    appearance: [T2, H2, W2, C] float video in [0, 1] (B: the look).
      Both one frame (images): a structural analogy, no motion cue.
    config: a `generation.Config`; `ANALOGY_DEFAULTS` (images:
      `IMAGE_ANALOGY_DEFAULTS`) and `**overrides` are applied over it.
    structure_weight: how much the motion cue counts against the colours
      (0: not at all, the layout then follows A's colours alone).
    cue_levels: the cue acts on this many coarsest levels; None: the coarse
      half.
    cue_bins: k-means levels of the motion cue.
    match_start_colours: start from A's frames with their colours matched
      to B's (`match_colours`) rather than as they are.
    progress: as in `generation.generate`.
    **overrides: `Config` fields.

  Returns:
    [T, H, W, C] (or [N, T, H, W, C]): the structure's size.

  Raises:
    InputError: a video that is not a float [T, H, W, C] array, a video and
      an image, different channel counts, channels other than 3 or 1 with
      the motion cue on, or videos too small for the patch.
  """
  return _render(key, edit.check_video(structure, 'structure'), appearance,
                 config, ANALOGY_DEFAULTS, structure_weight=structure_weight,
                 cue_levels=cue_levels, cue_bins=cue_bins,
                 match_start_colours=match_start_colours, progress=progress,
                 **overrides)


def _render(key, structure, appearance, config, defaults, *,
            structure_weight=DEFAULT_STRUCTURE_WEIGHT, cue_levels=None,
            cue_bins=DEFAULT_CUE_BINS, match_start_colours=True,
            progress=None, **overrides):
  """`analogy` with the video defaults `defaults` (analogy or sketch)."""
  appearance = edit.check_video(appearance, 'appearance')
  if structure.shape[3] != appearance.shape[3]:
    raise errors.InputError(
        f'the structure has {structure.shape[3]} channels, the appearance '
        f'{appearance.shape[3]}; give two RGB videos')
  images = structure.shape[0] == 1
  if images != (appearance.shape[0] == 1):
    raise errors.InputError(
        f'the structure has {structure.shape[0]} frame(s), the appearance '
        f'{appearance.shape[0]}: give two videos or two images')
  if structure_weight < 0:
    raise ValueError(f'structure_weight must be >= 0, got {structure_weight}')
  if not images and structure_weight > 0 and structure.shape[3] not in (1, 3):
    raise errors.InputError(
        f'the motion cue needs RGB (3-channel) or grey (1-channel) videos, '
        f'got {structure.shape[3]} channels; give RGB videos, or '
        f'structure_weight=0 for no motion cue')
  appearance = fit_appearance(appearance, structure.shape[:3])
  config = render_config(structure.shape[:3], appearance.shape[:3],
                         IMAGE_ANALOGY_DEFAULTS if images else defaults,
                         config, overrides)
  start = match_colours(structure, appearance) if match_start_colours else (
      structure)
  guide = generation.Guide(start=start)
  if not images and structure_weight > 0:
    guide = guide._replace(
        query_cue=structure_weight * motion.motion_cue(
            structure, bins=cue_bins, **CUE_FLOW),
        key_cue=structure_weight * motion.motion_cue(
            appearance, bins=cue_bins, **CUE_FLOW),
        cue_levels=cue_levels)
  return edit.generate_for_keys(key, appearance, config, guide, progress)


def check_sketch(drawing: jax.Array) -> None:
  """InputError when a sketch has a single colour (no layout to follow)."""
  spread = jnp.std(drawing.reshape(-1, drawing.shape[-1]), axis=0)
  if not isinstance(spread, jax.core.Tracer) and bool(
      jnp.all(spread < MIN_SKETCH_SPREAD)):
    raise errors.InputError(
        'the sketch has a single colour: it gives no layout to follow; draw '
        'each region (sky, ground, a moving shape) in its own flat colour')


def sketch(key: jax.Array,
           drawing: Any,
           appearance: Any,
           config: generation.Config | None = None,
           **options) -> jax.Array:
  """Sketch-to-video: a drawn video (flat colours) rendered as `appearance`.

  An `analogy` whose structure is the sketch, with `SKETCH_DEFAULTS`.

  Args:
    key: a PRNG key, or [N] keys.
    drawing: [T, H, W, C] float in [0, 1], each region a flat colour (e.g.
      `sketches.from_video` or `sketches.moving_disc`).
    appearance: [T2, H2, W2, C] float video in [0, 1].
    config: as in `analogy`.
    **options: the keyword options of `analogy` and `Config` fields.

  Returns:
    [T, H, W, C] (or [N, T, H, W, C]).

  Raises:
    InputError: as `analogy`, and for a sketch of a single colour.
  """
  drawing = edit.check_video(drawing, 'sketch')
  check_sketch(drawing)
  return _render(key, drawing, appearance, config, SKETCH_DEFAULTS, **options)
