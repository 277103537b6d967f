"""Two searches run from the same start at every pyramid level.

Whole generations with two searches are hard to compare: a variation's layout
diverges level after level, and the patch statistics of one sample differ
from the next by several times, so two sets of samples differ by much more
than their searches do. `level_outputs` removes that noise: it runs the
generation level by level with one search (`carry`), and at every level also
runs the level's J iterations with each other search from the same start
(the same upscaled output, keys and values; PatchMatch's field upscaled from
the carried search's field, as `search='auto'` does where it switches). The
outputs of one level then differ only by the search.
"""

from typing import Iterator, Sequence

import jax

from vgpnn_jax import generation
from vgpnn_jax import pnn

# pylint: disable=protected-access  (the level programs of generation.py)


def level_outputs(
    keys: jax.Array,
    video: jax.typing.ArrayLike,
    config: generation.Config | None = None,
    *,
    searches: Sequence[str] = ('exact', 'patchmatch'),
    carry: str = 'exact',
    **overrides,
) -> Iterator[tuple[generation.Level, dict[str, jax.Array], jax.Array]]:
  """Per level, coarsest first, the outputs of each search from one start.

  Args:
    keys: [N] PRNG keys, one per sample (as in `generate_batch`).
    video: [T, H, W, C] float video in [0, 1].
    config: a `Config` (its `search` is ignored, and its completeness term
      `alpha` too: it acts on exact-search levels only, so the outputs would
      differ by more than the search); or keyword overrides.
    searches: the searches run at every level ('exact', 'patchmatch').
    carry: the search (one of `searches`) whose output and field start the
      next level.
    **overrides: `Config` fields.

  Returns:
    An iterator, coarsest level first, over (level, {search: [N,
    *level.output_size, C] output}, [*level.input_size, C] the level's
    input). The carried outputs are those of `generate_batch` with
    `search=carry` and the same keys; the others are computed on the side.
    Each level runs when the iterator reaches it.

  Raises:
    ValueError: an unknown search, or `carry` not among `searches`.
  """
  if carry not in searches:
    raise ValueError(f'carry must be one of the searches {searches}, got '
                     f'{carry!r}')
  for search in searches:
    if search not in pnn.SEARCHES:
      raise ValueError(f'searches must be in {pnn.SEARCHES}, got {search!r}')
  config = generation.make_config(config, **overrides)
  config = config._replace(search=carry, alpha=None)
  video = generation._check_video(video)
  return _level_outputs(keys, video, config, tuple(searches), carry)


def _level_outputs(keys, video, config, searches, carry):
  """The iterator of `level_outputs`, for checked arguments."""
  levels = generation.plan_levels(video.shape[:3], config, video.shape[3])
  static = generation._programs(levels, config)
  sizes = tuple(level.input_size for level in levels)
  inputs = generation._pyramid_program(sizes)(video)
  coarsest = len(levels) - 1
  output = field = None
  for index in reversed(range(len(levels))):
    level_key = generation._fold_in(keys, index, batched=True)
    outputs, fields = {}, {}
    for search in searches:
      program = static[index]
      program = program._replace(
          options=program.options._replace(search=search))
      programs = (generation._compiled_start(program, index == coarsest, True),
                  pnn.compiled_iteration(program.options, True), None, None)
      outputs[search], fields[search] = generation._run_level(
          programs, program.options, level_key, inputs, index,
          [output, field], index == coarsest, True)
    yield levels[index], outputs, inputs[index]
    output, field = outputs[carry], fields[carry]
