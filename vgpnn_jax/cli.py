"""Command line: `python -m vgpnn_jax [generate|inpaint|edit|evaluate] ...`.

With no arguments it runs the main job: a few variations of the bundled sample
video, written under `outputs/` with a side-by-side grid.

Bad input (a missing or corrupt file, a video too small for the patch, a scale
that leaves no room for a patch, a mask or edit of another size, an empty
mask, an unwritable folder, an output that exists already) prints one line
naming the problem and the fix, exits with status 2 and writes nothing: the
output folder is made only when the first file is written.

An output never replaces an input. An existing output is replaced only with
`--overwrite`, which also removes the command's numbered outputs beyond this
run's `--num` (e.g. a stale variation_001.mp4 beside a new single variation),
matched by name exactly; nothing else in the folder is touched.

`generate FOLDER` on a folder holding videos runs on each video and image of
it, into DIR/<name>/ (`vgpnn_jax.batch`): an input that fails is reported and
the others go on (exit status 1), and a rerun skips the finished ones.

SIGTERM is handled as Ctrl-C: the file being written is removed (writes go
through a temporary file) and the exit status is 143 (130 for Ctrl-C).
"""

import argparse
import contextlib
import os
import pathlib
import re
import shutil
import signal
import sys
import time
import warnings
from typing import Any, NamedTuple, Sequence

SAMPLE_VIDEO = pathlib.Path(__file__).parent / 'data' / 'bunny.mp4'
DEFAULT_OUT = pathlib.Path('outputs')
EXIT_SOME_FAILED = 1  # a folder run: some input failed, the others ran
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM
OUTPUT_FORMATS = ('mp4', 'gif', 'png')  # what the commands write

# The `Config` fields the options set, named as the options in messages.
_CONFIG_FLAGS = {'noise_std': '--noise', 'scale': '--scale',
                 'patch_size': '--patch', 'num_iters': '--iters',
                 'max_levels': '--levels', 'alpha': '--alpha',
                 'reduce': '--reduce', 'search': '--search',
                 'layout_draws': '--guard'}
# --report's cost cap: query patches per direction, and patches per scale of
# the SWD (`evaluate` defaults to 20000 and 2**19; a few seconds at 144p).
_REPORT_PATCHES = 4096
_REPORT_SWD_PATCHES = 2**15
_SEED_HELP = ('random seed, a whole number >= 0 (negative seeds are refused); '
              'every seed gives its own outputs')
_OVERWRITE_HELP = ('replace outputs already in DIR, and remove this '
                   'command\'s numbered outputs beyond --num there; an input '
                   'is never replaced')


def _floats(text: str, count: int, name: str) -> tuple[float, ...]:
  try:
    values = tuple(float(v) for v in text.split(','))
  except ValueError:
    values = ()
  if len(values) != count:
    raise argparse.ArgumentTypeError(
        f'{name} takes {count} comma-separated numbers, got {text!r}')
  return values


def _ints(text: str, count: int, name: str) -> tuple[int, ...]:
  values = _floats(text, count, name)
  if any(v != int(v) or v < 1 for v in values):
    raise argparse.ArgumentTypeError(
        f'{name} takes {count} comma-separated positive integers, got '
        f'{text!r}')
  return tuple(int(v) for v in values)


def parse_alpha(text: str) -> float | str:
  """`--alpha`: a positive number, or 'none' (the completeness term off)."""
  if text.strip().lower() == 'none':
    return 'none'
  try:
    value = float(text)
  except ValueError:
    value = 0.0
  if not value > 0:
    raise argparse.ArgumentTypeError(
        f'--alpha takes a positive number or "none", got {text!r}')
  return value


def parse_hosts(text: str) -> tuple:
  """`--hosts`: 'COORDINATOR,N,I' -> (coordinator, N, I); 'auto' -> ()."""
  if text.strip().lower() == 'auto':
    return ()
  parts = text.split(',')
  try:
    coordinator, num, index = parts[0].strip(), int(parts[1]), int(parts[2])
    if len(parts) != 3 or ':' not in coordinator or not 0 <= index < num:
      raise ValueError
  except (ValueError, IndexError):
    raise argparse.ArgumentTypeError(
        f'--hosts takes HOST:PORT,N,I (the coordinator, process 0, and '
        f'this process\'s index I of N, 0 <= I < N) or "auto", got '
        f'{text!r}') from None
  return coordinator, num, index


def parse_window_frames(text: str) -> int | str:
  """`--window-frames`: frames per temporal window (an integer >= 2), 'auto'
  or 'off'."""
  word = text.strip().lower()
  if word in ('auto', 'off'):
    return word
  try:
    value = int(text)
  except ValueError:
    value = 0
  if value < 2:
    raise argparse.ArgumentTypeError(
        f'--window-frames takes a number of frames (at least 2), "auto" or '
        f'"off", got {text!r}')
  return value


def alpha_overrides(value: float | str | None) -> dict:
  """`Config` overrides for a `parse_alpha` value; None: the library's."""
  if value is None:
    return {}
  return {'alpha': None if value == 'none' else value}


def _frame_range(text: str) -> tuple[int | None, int | None, int]:
  parts = text.split(':')
  try:
    if len(parts) not in (2, 3):
      raise ValueError
    numbers = [int(p) if p.strip() else None for p in parts]
  except ValueError as e:
    raise argparse.ArgumentTypeError(
        f'--frames takes START:STOP or START:STOP:STEP (e.g. 0:13 or 0:40:2), '
        f'got {text!r}') from e
  step = numbers[2] if len(numbers) == 3 and numbers[2] is not None else 1
  return numbers[0], numbers[1], step


def _add_input_options(parser: argparse.ArgumentParser) -> None:
  parser.add_argument(
      '--max-size', type=int, default=None, metavar='PX',
      help='resize the input so that its height is at most PX pixels (the '
      'reference code reads at 144); default: full size')
  parser.add_argument(
      '--frames', type=_frame_range, default=(None, None, 1),
      metavar='START:STOP[:STEP]',
      help='frame range of the input, as a Python slice (e.g. 0:13 or 0:60:2)')


def _add_reporting_options(parser: argparse.ArgumentParser) -> None:
  parser.add_argument(
      '--report', action='store_true',
      help='after writing, print quality numbers as `evaluate` does: each '
      'output\'s coherence, completeness and patch SWD against the input, '
      f'and the diversity across outputs ({_REPORT_PATCHES} sampled '
      'patches per direction)')
  talk = parser.add_mutually_exclusive_group()
  talk.add_argument('--quiet', action='store_true',
                    help='print only the summary')
  talk.add_argument('--verbose', action='store_true',
                    help='also print the devices and the plan of the levels '
                    '(as --dry-run) before generating')


def _add_format_options(parser: argparse.ArgumentParser) -> None:
  parser.add_argument(
      '--format', choices=OUTPUT_FORMATS, default='mp4',
      help='output format: mp4 (H.264), gif, or png: each output a folder of '
      'lossless frames DIR/<name>_000/000000.png, ... (grid.mp4 and '
      'contact.png as for mp4); an image input writes PNGs '
      '(default: %(default)s)')
  parser.add_argument(
      '--crf', type=int, default=None, metavar='N',
      help='H.264 quality of the mp4 files: 0 (lossless, largest) to 51 '
      '(smallest); default: 18, visually lossless for most content')


def _add_edit_options(parser: argparse.ArgumentParser, what: str,
                      levels: str) -> None:
  """The options `inpaint` and `edit` share."""
  parser.add_argument('--out', default=str(DEFAULT_OUT), metavar='DIR',
                      help='output folder (default: %(default)s)')
  parser.add_argument('--num', type=int, default=1, metavar='N',
                      help=f'number of {what} (default: %(default)s)')
  parser.add_argument('--seed', type=int, default=0, metavar='S',
                      help=_SEED_HELP + ' (default: %(default)s)')
  parser.add_argument('--overwrite', action='store_true',
                      help=_OVERWRITE_HELP)
  _add_input_options(parser)
  parser.add_argument(
      '--level', type=int, default=None, metavar='L',
      help='pyramid levels used, the coarsest being where the start enters: '
      f'more changes more (default: {levels})')
  parser.add_argument('--noise', type=float, default=None, metavar='SIGMA',
                      help='noise added to the start, from 0 to 1000 '
                      '(default: 0)')
  parser.add_argument(
      '--patch', type=lambda t: _ints(t, 3, '--patch'), default=None,
      metavar='pT,pH,pW',
      help='patch size (default: 3,7,7 for videos, 1,7,7 for images)')
  parser.add_argument('--iters', type=int, default=None, metavar='J',
                      help='iterations per level (default: 5)')
  parser.add_argument(
      '--search', choices=('auto', 'exact', 'patchmatch'), default='auto',
      help='nearest-neighbour search (default: %(default)s)')
  _add_format_options(parser)
  _add_reporting_options(parser)


def _build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      # Usage lines name the command the user typed: the console script or
      # the module.
      prog='vgpnn' if pathlib.Path(sys.argv[0]).stem == 'vgpnn' else (
          'python -m vgpnn_jax'),
      description='New videos from a single video by generative patch nearest '
      'neighbours (VGPNN). With no arguments: a few variations of the bundled '
      f'sample, written to {DEFAULT_OUT}/.')
  commands = parser.add_subparsers(dest='command', metavar='COMMAND')

  gen = commands.add_parser(
      'generate', help='variations or retargeting of one video',
      description='Generate variations (new arrangements with the same look '
      'and motion) of a video, a frame folder or an image; with --scale, '
      'retarget it to another size or length. Writes DIR/variation_000.mp4, '
      '... and DIR/grid.mp4 (the input beside the outputs). A single image '
      'gets the image method\'s settings (7x7 patches, factor 0.75, 9 '
      'levels, noise 0.75, 10 iterations, mean fold) and writes PNGs and a '
      'contact sheet, grid.png.')
  gen.add_argument(
      'input', nargs='?', default=str(SAMPLE_VIDEO),
      help='video file (.mp4 .avi .mkv .mov .webm .mj2 .gif), folder of '
      'numbered frames, or image; default: the bundled sample. A folder '
      'holding videos is a batch: each of its videos and images (not in '
      'subfolders) gets DIR/<name>/, DIR/manifest.json lists them, and the '
      'same command again skips those done')
  gen.add_argument('--out', default=str(DEFAULT_OUT), metavar='DIR',
                   help='output folder (created if needed); default: '
                   '%(default)s')
  gen.add_argument('--num', type=int, default=4, metavar='N',
                   help='number of variations (default: %(default)s)')
  gen.add_argument('--seed', type=int, default=0, metavar='S',
                   help=_SEED_HELP + '; the same seed, input and options give '
                   'the same videos (default: %(default)s)')
  gen.add_argument('--overwrite', action='store_true', help=_OVERWRITE_HELP)
  _add_input_options(gen)
  variety = gen.add_mutually_exclusive_group()
  variety.add_argument(
      '--diversity', default=None, metavar='LEVEL',
      help='how far the layouts stray from the input: low, default or high, '
      'or a number of patch spreads (the noise at the coarsest level over '
      'the mean distance between the clip\'s own patches: '
      'vgpnn_jax.noise.DIVERSITY names the three levels, chosen on 14 '
      'clips, experiments/results/diversity_curve.md); 0 gives no '
      'variation (retargeting)')
  variety.add_argument(
      '--noise', type=float, default=None, metavar='SIGMA',
      help='the noise at the coarsest level in value units instead, from 0 '
      'to 1000 (videos in [0, 1]; the reference code\'s 5 on [-1, 1] is 2.5 '
      'here; images default to 0.75)')
  gen.add_argument(
      '--scale', type=lambda t: _floats(t, 3, '--scale'), default=None,
      metavar='sT,sH,sW',
      help='output size over input size in time, height and width, e.g. '
      '1,1,0.6 for a narrower video or 0.5,1,1 for a shorter one '
      '(default: 1,1,1)')
  gen.add_argument(
      '--patch', type=lambda t: _ints(t, 3, '--patch'), default=None,
      metavar='pT,pH,pW',
      help='patch size in frames, rows and columns (default: 3,7,7 for '
      'videos, 1,7,7 for images)')
  gen.add_argument('--iters', type=int, default=None, metavar='J',
                   help='iterations per pyramid level (default: 5; the '
                   'coarsest level runs 1)')
  gen.add_argument(
      '--search', choices=('auto', 'exact', 'patchmatch'), default='auto',
      help='nearest-neighbour search: exact (slow beyond small videos), '
      'patchmatch (approximate, linear cost) or auto (exact where cheap); '
      'default: %(default)s')
  gen.add_argument(
      '--alpha', type=parse_alpha, default=None, metavar='A',
      help='completeness term: smaller keeps more of the input\'s content '
      'in each variation; "none" turns it off (default: 1.0, on the '
      'coarsest 5 levels)')
  gen.add_argument('--levels', type=int, default=None, metavar='L',
                   help='keep at most L pyramid levels (the finest ones); '
                   'fewer levels keep the layout closer to the input '
                   '(default: all, down to 3 frames / 15 px)')
  gen.add_argument('--reduce', choices=('median', 'mean'), default=None,
                   help='how overlapping patches are combined (default: '
                   'median)')
  gen.add_argument(
      '--dry-run', action='store_true',
      help='print the plan (each level\'s size, patch, search and '
      'iterations, the memory estimate and the files it would write) and '
      'stop, writing nothing; the input\'s size comes from its header and '
      'first frame, so a long clip is not decoded')
  gen.add_argument(
      '--guard', type=int, default=None, metavar='K',
      help='structure guard: draw K layouts per output up to a coarse level '
      'and go on from the one made most of the input\'s own patches; fewer '
      'broken or repeated objects, a little less variety, more time at the '
      'coarse levels; default 2 for videos, 1 for images; 1 turns it off, '
      'and so does --noise 0 (experiments/results/structure_guard.md)')
  gen.add_argument(
      '--window-frames', type=parse_window_frames, default='auto',
      metavar='N|auto|off',
      help='temporal windows: run the finest levels in overlapping windows '
      'of N of their frames (blended where they meet; the coarser levels see '
      'the whole clip), on as few levels as the free memory allows; auto '
      '(the default) windows only a clip too long to fit whole, with the '
      'longest windows that fit (each searching only its own frames and 8 '
      'more either side where searching the whole clip does not fit), and '
      'says so; off never windows (experiments/results/windows.md)')
  gen.add_argument(
      '--hosts', type=parse_hosts, default=None, metavar='HOST:PORT,N,I',
      help='spread the variations over N machines: start the same command '
      'on each, with its own index I (0 .. N-1) and HOST:PORT of process 0; '
      '"auto" where JAX detects the cluster (Cloud TPU, SLURM). Each process '
      'writes only its own share of the variations, process 0 the grid; '
      '--num must be a multiple of the devices of all hosts')
  gen.add_argument(
      '--hosts-timeout', type=float, default=300.0, metavar='SECONDS',
      help='with --hosts: how long to wait for process 0 to answer and for '
      'all N processes to join (default 300)')
  _add_format_options(gen)
  _add_reporting_options(gen)

  inp = commands.add_parser(
      'inpaint', help='remove someone: refill a region from the rest',
      description='Refill a region of a video (a mask, a box or a painted '
      'cue) with patches from outside it, consistent in time; outside the '
      'region the output is the input. Writes DIR/inpaint_000.mp4, ... and '
      'DIR/grid.mp4 (input, region, outputs).')
  inp.add_argument('input', help='video file, folder of frames or image')
  region = inp.add_argument_group('the region to fill (one of)')
  region.add_argument(
      '--mask', default=None, metavar='MASK',
      help='mask video, folder of mask frames, or one image for every frame: '
      'white (nonzero) = fill; with --cue, the region instead of where the '
      'cue differs')
  region.add_argument(
      '--box', default=None, metavar='T0:T1,Y0:Y1,X0:X1',
      help='a box in the input file\'s frames, rows and columns (half-open, '
      'e.g. 0:30,100:180,40:90; an empty bound is the start or end)')
  region.add_argument(
      '--cue', default=None, metavar='PAINTED',
      help='a copy of the input with the region painted in the colours it '
      'should take (blue where sky should be): the fill follows the colours')
  inp.add_argument(
      '--blend-seams', action='store_true',
      help='shift the fill smoothly to meet the region\'s border, so that a '
      'hole over a surface whose shading drifts (a lit path) does not show '
      'as a box; the fill\'s patches are then shifted from the input\'s')
  _add_edit_options(  # edit.INPAINT_DEFAULTS (this module imports no jax)
      inp, 'fills', 'all, down to 15 px, less where the region leaves too '
      'few patches outside it')

  ed = commands.add_parser(
      'edit', help='make a rough edit coherent: add, move or copy someone',
      description='Make a rough edit of a video (a person pasted, moved or '
      'copied, a collage) coherent: the edit sets the layout at a coarse '
      'level and patches of the original (or of --values) remake the '
      'detail, so seams disappear. Writes DIR/edit_000.mp4, ... and '
      'DIR/grid.mp4 (original, edit, outputs).')
  ed.add_argument('original', help='the original video, folder or image')
  ed.add_argument('edited', help='the rough edit, of the same size')
  ed.add_argument('--mask', default=None, metavar='MASK',
                  help='only this region may change (white = may change); '
                  'default: everywhere')
  ed.add_argument(
      '--values', default=None, metavar='OTHER',
      help='take the patches from this video or image (of the same frame '
      'size) instead of the original: a new background')
  ed.add_argument('--with-original', action='store_true',
                  help='with --values, take patches from both')
  _add_edit_options(ed, 'results', '5')  # edit.EDIT_DEFAULTS

  for name, short, text in (
      ('analogy', 'the motion of one video in the look of another',
       'the layout and motion of STRUCTURE in the look of APPEARANCE'),
      ('sketch', 'sketch-to-video: a drawing in the look of a video',
       'a sketch (flat colours, one per region) in the look of APPEARANCE')):
    an = commands.add_parser(
        name, help=short,
        description=f'Render {text}, with patches of APPEARANCE only; a '
        'motion cue (optical-flow magnitude, computed here) matches moving '
        'regions to moving ones. The output has the structure\'s size and '
        f'length. Writes DIR/{name}_000.mp4, ... and DIR/grid.mp4 '
        '(structure, appearance, outputs). Two images make a structural '
        'analogy (no motion cue).')
    an.add_argument('structure' if name == 'analogy' else 'sketch',
                    help='the structure video, folder of frames or image' if
                    name == 'analogy' else 'the sketch: a video or a folder '
                    'of drawn frames (make one with make-sketch)')
    an.add_argument('appearance', help='the video (or image) whose look is '
                    'used')
    an.add_argument(
        '--structure-weight', type=float, default=None, metavar='W',
        help='how much the motion cue counts against the colours (0: not '
        'at all; default: 1)')
    an.add_argument(
        '--cue-levels', type=int, default=None, metavar='L',
        help='the cue acts on the L coarsest levels (default: the coarse '
        'half)')
    _add_edit_options(an, 'results', 'all, down to 20 px' if
                      name == 'analogy' else 'all, down to 35 px')

  mk = commands.add_parser(
      'make-sketch', help='make a sketch to draw over or render',
      description='Write a sketch for the sketch command: INPUT\'s colours '
      'clustered into a few flat ones (draw over it: move a region, paint '
      'another), or with --disc a disc crossing sky and ground.')
  mk.add_argument('input', nargs='?', default=None,
                  help='video, folder or image to sketch (not with --disc)')
  mk.add_argument('--disc', default=None, metavar='TxHxW',
                  help='a moving disc of this many frames, rows and columns')
  mk.add_argument('--colours', type=int, default=None, metavar='K',
                  help='number of flat colours of a video\'s sketch '
                  '(default: 4)')
  mk.add_argument('--out', required=True, metavar='FILE',
                  help='the sketch to write (.mp4, .gif, or .png for one '
                  'frame)')
  mk.add_argument('--overwrite', action='store_true',
                  help='replace FILE if it exists (never an input)')
  _add_input_options(mk)

  ev = commands.add_parser(
      'evaluate', help='quality numbers of outputs against their input',
      description='Print diversity, coherence, completeness and patch SWD '
      'of generated videos against their input (DESIGN.md §3).')
  ev.add_argument('input', help='the input video the outputs came from')
  ev.add_argument('outputs', nargs='+', help='generated videos')
  _add_input_options(ev)
  ev.add_argument('--json', action='store_true',
                  help='print JSON instead of a table')
  ev.add_argument('--max-patches', type=int, default=20000, metavar='N',
                  help='query patches sampled per video for coherence and '
                  'completeness (default: %(default)s; 0: all)')
  ev.add_argument('--seed', type=int, default=0, metavar='S',
                  help='seed of the patch sampling, a whole number >= 0 '
                  '(default: %(default)s)')
  return parser


def _enable_compilation_cache() -> None:
  """Keeps compiled level programs across runs (compiling costs more than
  running at small sizes)."""
  import jax  # pylint: disable=g-import-not-at-top
  cache = os.environ.get('VGPNN_JAX_CACHE',
                         str(pathlib.Path.home() / '.cache' / 'vgpnn_jax'))
  try:
    pathlib.Path(cache).mkdir(parents=True, exist_ok=True)
  except OSError:
    return  # no cache is slower, not wrong
  jax.config.update('jax_compilation_cache_dir', cache)
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.2)


def _check_seed(seed: int) -> None:
  from vgpnn_jax import errors  # pylint: disable=g-import-not-at-top
  if seed < 0:
    raise errors.InputError(f'--seed must be >= 0, got {seed}; any whole '
                            f'number from 0 up gives its own outputs')


def _seed_keys(seed: int, num: int):
  """[num] keys from --seed; seeds below 2**32 give `jax.random.key`'s."""
  import jax  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import generation  # pylint: disable=g-import-not-at-top
  return jax.random.split(generation.key_for_seed(seed), num)


def _checked_config(overrides: dict, level_flag: str = '--levels') -> None:
  """Checks `Config` overrides before any reading; messages name the flags."""
  from vgpnn_jax import errors  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import generation  # pylint: disable=g-import-not-at-top
  try:
    generation.make_config(**overrides)
  except ValueError as e:
    message = str(e)
    for field, flag in _CONFIG_FLAGS.items():
      flag = level_flag if field == 'max_levels' else flag
      message = re.sub(rf'\b{field}\b', flag, message)
    raise errors.InputError(message) from e


def _input_files(paths: Sequence[str | None]) -> list[pathlib.Path]:
  """The files a run reads: each path given, every file of a folder."""
  files = []
  for path in paths:
    if path is None:
      continue
    path = pathlib.Path(path).expanduser()
    if path.is_dir():
      files.extend(f for f in path.iterdir() if f.is_file())
    elif path.exists():
      files.append(path)
  return files


def _same_file(a: pathlib.Path, b: pathlib.Path) -> bool:
  """Whether two paths name one file (also through links)."""
  try:
    return a.resolve() == b.resolve() or (
        a.exists() and b.exists() and os.path.samefile(a, b))
  except OSError:
    return False


def _check_targets(paths: Sequence[pathlib.Path],
                   inputs: Sequence[pathlib.Path], overwrite: bool,
                   where: str = 'another --out folder') -> None:
  """InputError when a file to write is an input, or exists (unless
  `overwrite`)."""
  from vgpnn_jax import errors  # pylint: disable=g-import-not-at-top
  for path in paths:
    for source in inputs:
      if _same_file(path, source):
        raise errors.InputError(
            f"the output '{path}' would replace the input '{source}'; "
            f'choose {where} (an output never replaces an input, even with '
            f'--overwrite)')
  for path in paths:
    if is_frame_folder(path):
      _check_frame_folder(path, inputs, where)
    elif path.is_dir():
      raise errors.InputError(f"cannot write '{path}': it is a folder; "
                              f'choose {where}')
    if not overwrite and (path.exists() or path.is_symlink()):
      raise errors.InputError(
          f"'{path}' already exists; pass --overwrite to replace it, or "
          f'choose {where}')


def _check_frame_folder(path: pathlib.Path, inputs: Sequence[pathlib.Path],
                        where: str) -> None:
  """InputError when the folder output `path` holds an input, or anything
  but frames (`--overwrite` replaces only a folder of frames)."""
  from vgpnn_jax import errors  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import io  # pylint: disable=g-import-not-at-top
  for source in inputs:
    if _same_file(source.parent, path):
      raise errors.InputError(
          f"the output '{path}' would replace the input '{source}'; choose "
          f'{where} (an output never replaces an input, even with '
          f'--overwrite)')
  if path.is_symlink() or (path.exists() and not io.holds_only_frames(path)):
    kind = 'a folder holding other files' if path.is_dir() else 'not a folder'
    raise errors.InputError(f"cannot write '{path}': it is {kind}; choose "
                            f'{where}')


def is_frame_folder(path: pathlib.Path) -> bool:
  """Whether an `output_paths` path is a folder of frames (no extension)."""
  return not path.suffix


def output_format(fmt: str, frames: int) -> str:
  """The `output_paths` format of --format `fmt` for outputs of `frames`
  frames: 'png' (one PNG each) for one frame, 'frames' for --format png."""
  return 'png' if frames == 1 else 'frames' if fmt == 'png' else fmt


def output_paths(out_dir: pathlib.Path, name: str, num: int,
                 fmt: str) -> list[pathlib.Path]:
  """The files a command writes: DIR/<name>_000.<fmt> ... (one per output),
  DIR/grid.<fmt> (the inputs beside the outputs) and, for videos, the
  contact sheet DIR/contact.png (a few frames of each); `fmt` 'png' means
  one-frame outputs, whose grid is their contact sheet, and 'frames' a folder
  of PNG frames DIR/<name>_000/ per output, with DIR/grid.mp4
  (`output_format`)."""
  if fmt == 'frames':
    paths = [out_dir / f'{name}_{index:03d}' for index in range(num)]
    return paths + [out_dir / 'grid.mp4', out_dir / 'contact.png']
  paths = [out_dir / f'{name}_{index:03d}.{fmt}' for index in range(num)]
  paths.append(out_dir / f'grid.{fmt}')
  if fmt != 'png':
    paths.append(out_dir / 'contact.png')
  return paths


def _check_crf(args: argparse.Namespace, frames: int | None = None) -> None:
  """InputError for a --crf out of range, or without mp4 files to write
  (--format gif or png, or with `frames` 1, an image's PNG)."""
  if args.crf is None:
    return
  from vgpnn_jax import errors  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import io  # pylint: disable=g-import-not-at-top
  io.check_crf(args.crf, '--crf')
  if args.format != 'mp4' or frames == 1:
    made = (f'--format {args.format} writes no mp4' if frames != 1 else
            'an image input writes PNGs')
    raise errors.InputError(f'--crf sets the quality of mp4 files, but '
                            f'{made}; drop --crf')


def _plan_outputs(args: argparse.Namespace, out_dir: pathlib.Path, name: str,
                  frames: int, inputs: Sequence[str | pathlib.Path | None],
                  keep_existing: bool = False):
  """The files a run will write, checked, and the stale ones to remove.

  With `keep_existing` an existing output is no refusal (the folder run keeps
  it and writes the others); it is never an input.

  Returns:
    (paths, stale): `output_paths` (`output_format`: PNG for one-frame
    outputs), and with --overwrite the files DIR/<name>_NNN.<any of
    OUTPUT_FORMATS> and folders of frames DIR/<name>_NNN/ numbered from --num
    up (named exactly as this command names its outputs, and no input).
  """
  _check_crf(args, frames)
  paths = output_paths(out_dir, name, args.num,
                       output_format(args.format, frames))
  sources = _input_files(inputs)
  _check_targets(paths, sources, args.overwrite or keep_existing)
  stale = []
  if args.overwrite and out_dir.is_dir():
    pattern = re.compile(rf'{re.escape(name)}_(\d{{3,}})(?:\.'
                         rf'(?:{"|".join(OUTPUT_FORMATS)}))?')
    for path in sorted(out_dir.iterdir()):
      match = pattern.fullmatch(path.name)
      if (match and match[1] == f'{int(match[1]):03d}' and
          int(match[1]) >= args.num and _is_stale(path, sources)):
        stale.append(path)
  return paths, stale


def _is_stale(path: pathlib.Path, sources: Sequence[pathlib.Path]) -> bool:
  """Whether a numbered output beyond --num may be removed: a file, or a
  folder of frames (`write_frames`), that is no input and holds none."""
  from vgpnn_jax import io  # pylint: disable=g-import-not-at-top
  if path.is_symlink():
    return False
  if is_frame_folder(path):
    return io.holds_only_frames(path) and not any(
        _same_file(source.parent, path) for source in sources)
  return path.is_file() and not any(
      _same_file(path, source) for source in sources)


class _GenerateJob(NamedTuple):
  """One input of `generate`, read and planned (`_plan_generate`)."""
  video: Any  # [T, H, W, 3] float32; None when only planned (--dry-run)
  fps: float
  config: Any  # generation.Config
  levels: list  # generation.plan_levels
  paths: list[pathlib.Path]  # the numbered outputs, then the grid
  stale: list[pathlib.Path]  # outputs to remove (--overwrite)
  batch: int = 1  # variations generated at once (memory.largest_batch)
  shape: tuple = ()  # (T, H, W, 3) of the input as read
  # --dry-run only: why the request cannot fit, printed after the plan.
  refusal: Exception | None = None
  windows: str | None = None  # the line saying the run windows, and why


def _generate_overrides(args: argparse.Namespace) -> dict:
  """The `Config` overrides of `generate`'s options, checked before reading."""
  from vgpnn_jax import errors  # pylint: disable=g-import-not-at-top
  overrides = {'search': args.search}
  if args.noise is not None:
    overrides.update(noise_std=args.noise, noise_unit='value')
  if args.diversity is not None:
    from vgpnn_jax import noise  # pylint: disable=g-import-not-at-top
    try:
      spreads = noise.diversity_noise(args.diversity)
    except ValueError as e:
      raise errors.InputError(f'--diversity: {e}') from e
    overrides.update(noise_std=spreads, noise_unit='patch_spread')
  for name, value in (('scale', args.scale),
                      ('patch_size', args.patch), ('num_iters', args.iters),
                      ('reduce', args.reduce),
                      ('max_levels', args.levels),
                      ('layout_draws', args.guard)):
    if value is not None:
      overrides[name] = value
  overrides.update(alpha_overrides(args.alpha))
  _checked_config(overrides)  # bad options before reading
  return overrides


def _plan_generate(args: argparse.Namespace, path: str | pathlib.Path,
                   out_dir: pathlib.Path, overrides: dict,
                   sources: Sequence[str | pathlib.Path],
                   keep_existing: bool = False,
                   read: bool = True) -> _GenerateJob:
  """Reads one input and plans its outputs in `out_dir` (`_plan_outputs`;
  `sources`: the inputs no output may replace); refuses what cannot fit.
  `read=False` (--dry-run) plans from the input's size alone (`io.read_size`:
  a long clip is not decoded), leaves `video` None and keeps a memory
  refusal in `refusal`, so that the plan it refuses can still be shown."""
  from vgpnn_jax import errors  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import generation  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import io  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import memory  # pylint: disable=g-import-not-at-top
  if read:
    video, fps = _read(path, args)
    shape = video.shape
  else:
    first, stop, step = args.frames
    size, fps = io.read_size(path, max_size=args.max_size, start=first,
                             stop=stop, step=step)
    video, shape = None, size + (3,)
  # A one-frame input gets the image method's defaults.
  config = generation.make_config(
      generation.default_config(shape[0], args.scale or (1, 1, 1)),
      **overrides)
  levels = generation.plan_levels(shape[:3], config)
  # Refuse up front, with a smaller request to try, what cannot fit even one
  # at a time (before listing --num output paths: --num 100000000 took
  # minutes there); a --num too large at once is made in batches that fit.
  refusal = windows = None
  try:
    config, windows = _choose_windows(args, levels, shape[3], config)
    batch = memory.largest_batch(levels, shape[3], args.num,
                                 chunk_size=config.chunk_size, config=config)
  except errors.InputError as e:
    if read:
      raise
    refusal, batch = e, 0
  memory.check_outputs_fit(args.num, levels[0].output_size, shape[3])
  paths, stale = _plan_outputs(args, out_dir, 'variation',
                               levels[0].output_size[0], sources,
                               keep_existing)
  return _GenerateJob(video, fps, config, levels, paths, stale, batch,
                      tuple(shape), refusal, windows)


# The share of a request's arrays that its temporal windows leave free.
_WINDOW_SPARE = 0.08


def _windows_line(levels, config, reason: str) -> str:
  """'temporal windows: levels 14-15 of 15 (the finest 2) in windows of 15
  frames (overlap 2): REASON', levels numbered as the plan's (coarsest 1);
  with key windows the parenthesis adds 'each searching its own frames and
  M more either side'."""
  count = min(config.window_levels, len(levels) - 1)
  first = len(levels) - count + 1
  which = (f'level {first}' if count == 1 else
           f'levels {first}-{len(levels)}')
  keys = ('' if config.window_key_margin is None else
          f', each searching its own frames and {config.window_key_margin} '
          f'more either side')
  return (f'temporal windows: {which} of {len(levels)} (the finest {count}) '
          f'in windows of {config.window_frames} frames (overlap '
          f'{config.window_overlap}{keys}): {reason}')


def _choose_windows(args: argparse.Namespace, levels, channels: int, config):
  """`--window-frames`: (config, line) with the temporal windows the run
  uses set in `config`, and the line saying so (None: no windows).

  auto windows only a request that does not fit whole one variation at a
  time, in `memory.fitting_windows`'s windows; a number N windows in N
  frames on the fewest finest levels that fit (the finest alone when the
  free memory is unknown or plenty). Raises `InputError` (`check_fits`'s,
  saying that windows do not fit either) when auto finds no windows.
  """
  from vgpnn_jax import errors  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import memory  # pylint: disable=g-import-not-at-top
  mode = getattr(args, 'window_frames', 'off')
  if mode == 'off' or levels[0].output_size[0] <= 1 or len(levels) < 2:
    return config, None  # an image, or no level but the coarsest to window
  shortest = memory.shortest_window(levels, config)
  if mode != 'auto' and mode < shortest:
    raise errors.InputError(
        f'--window-frames {mode} is too short: a window needs more frames '
        f'than the {config.window_overlap} it shares and at least the '
        f'patch\'s; use --window-frames {shortest} or more')
  available = memory.request_available_bytes(levels, channels)
  try:
    memory.check_fits(levels, channels, 1, chunk_size=config.chunk_size,
                      available=available, config=config)
    whole_fits = True
  except errors.InputError as e:
    whole_fits, refusal = False, e
  if mode == 'auto' and whole_fits:
    return config, None
  frames = None if mode == 'auto' else mode
  # The windows leave some memory to spare: the generation checks again
  # later, when the machine may hold more (60x720x1280 windowed to the byte
  # for 22.7 GiB free was refused by that check at 22.1 GiB).
  choice = None if whole_fits else memory.fitting_windows(
      levels, channels, 1, chunk_size=config.chunk_size, available=available,
      config=config, frames=frames, spare=_WINDOW_SPARE)
  if choice is None and mode == 'auto':
    smallest = memory.request_bytes(levels, channels, config=config._replace(
        window_frames=shortest, window_levels=len(levels) - 1,
        window_key_margin=memory.KEY_MARGIN))
    raise errors.InputError(
        f'{refusal}; temporal windows do not fit either (windows of '
        f'{shortest} frames on the finest {len(levels) - 1} level(s) need '
        f'about {smallest / 2**30:.2f} GiB)') from None
  if choice is None:  # N frames asked for: refused below if they do not fit
    choice = memory.WindowChoice(frames, 1 if whole_fits else len(levels) - 1)
  config = config._replace(window_frames=choice.frames,
                           window_levels=choice.levels,
                           window_key_margin=choice.key_margin)
  if whole_fits:
    reason = f'--window-frames {frames}'
  else:
    whole = memory.request_bytes(levels, channels,
                                 config=config._replace(window_frames=None))
    reason = (f'the whole clip needs about {whole / 2**30:.1f} GiB, '
              f'{available / 2**30:.1f} GiB free (a run may use '
              f'{memory.USABLE_FRACTION:.0%})')
  return config, _windows_line(levels, config, reason)


def _describe(job: _GenerateJob, num: int) -> str:
  """'4 frames of 24x32 at 10 fps; 2 output(s) of 4 frames of 24x32, 2
  levels'."""
  t, h, w = job.levels[0].output_size
  return (f'{job.shape[0]} frames of {job.shape[1]}x'
          f'{job.shape[2]} at {job.fps:g} fps; {num} output(s) of {t} '
          f'frames of {h}x{w}, {len(job.levels)} levels')


def _plan_table(levels, channels: int, num: int, config,
                paths: Sequence[pathlib.Path], verb: str = 'writes') -> str:
  """`--dry-run`'s and `--verbose`'s report: the levels (coarsest first), the
  memory estimate and the files a run writes."""
  from vgpnn_jax import generation  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import memory  # pylint: disable=g-import-not-at-top
  size = lambda s: 'x'.join(str(n) for n in s)
  lines = ['level  output       input        patch  search      iters  alpha']
  for done, level in enumerate(levels[::-1]):
    lines.append(f'{done + 1:5d}  {size(level.output_size):11s}  '
                 f'{size(level.input_size):11s}  {size(level.patch_size):5s}  '
                 f'{level.search:10s}  {level.num_iters:5d}  '
                 f'{"-" if level.alpha is None else f"{level.alpha:g}"}')
  draws = generation.guard_draws(config)
  peak = memory.estimate_bytes(levels, channels, num,
                               chunk_size=config.chunk_size,
                               layout_draws=draws,
                               guard_level=config.guard_level,
                               windows=generation.level_windows(levels,
                                                                config))
  lines.append(f'memory estimate: {peak / 2**30:.2f} GiB for {num} output(s)')
  if draws > 1:
    lines.append(f'structure guard: {draws} draws up to '
                 f'level {min(config.guard_level, len(levels) - 1) + 1}')
  lines.append(f'{verb}: ' + ', '.join(str(p) for p in paths))
  return '\n'.join(lines)


def _time_estimate(job: _GenerateJob, num: int) -> str:
  """`--dry-run`'s time line (`timing.estimate_seconds`)."""
  from vgpnn_jax import timing  # pylint: disable=g-import-not-at-top
  seconds = timing.estimate_seconds(job.levels, num, job.config,
                                    job.shape[3])
  return (f'time estimate: about {seconds:.0f} s with the compiled programs '
          f'cached (a first run also compiles; '
          f'{timing.calibrate() / 1e9:.0f} Gflop/s measured here)')


def _say_plan(args: argparse.Namespace, levels, channels: int, config,
              paths: Sequence[pathlib.Path]) -> None:
  """With --verbose, prints the devices and the plan before a run."""
  if not getattr(args, 'verbose', False):
    return
  import jax  # pylint: disable=g-import-not-at-top
  devices = jax.devices()
  print(f'devices: {len(devices)} x {devices[0].device_kind} '
        f'({jax.default_backend()}), jax {jax.__version__}')
  print(_plan_table(levels, channels, args.num, config, paths))


def _generate(args: argparse.Namespace, job: _GenerateJob, say):
  """The `[N, T, H, W, 3]` outputs of a planned input, as a NumPy array;
  `say` prints the progress per level. The keys come from --seed and --num
  alone, so every input of a folder gets the keys a run on it alone gets."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import generation  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import sharding  # pylint: disable=g-import-not-at-top
  _enable_compilation_cache()
  keys = _seed_keys(args.seed, args.num)
  batch = _batch_size(args, job)
  if batch < args.num:
    say(f'{args.num} variations do not fit in memory at once: '
        f'{-(-args.num // batch)} batches of at most {batch}')
  place = sharding.shard_keys if _on_hosts(args) else (lambda keys: keys)
  outputs = [
      sharding.gather(generation.generate_batch(
          place(keys[start:start + batch]), job.video, job.config,
          progress=_progress(args, say, job.levels)))
      for start in range(0, args.num, batch)]
  return np.concatenate(outputs)


def _on_hosts(args: argparse.Namespace) -> bool:
  return getattr(args, 'hosts', None) is not None


def _batch_size(args: argparse.Namespace, job: _GenerateJob) -> int:
  """Variations made per call: what fits (`job.batch`); with --hosts that
  many per process, in multiples of all the hosts' devices."""
  if not _on_hosts(args):
    return job.batch
  import jax  # pylint: disable=g-import-not-at-top
  devices = jax.device_count()
  return max(devices, min(args.num, job.batch * jax.process_count()) //
             devices * devices)


def _join_hosts(args: argparse.Namespace) -> None:
  """With --hosts, joins the other processes and checks --num fits them."""
  import jax  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import errors  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import sharding  # pylint: disable=g-import-not-at-top
  if args.hosts_timeout <= 0:
    raise errors.InputError(f'--hosts-timeout must be a positive number of '
                            f'seconds, got {args.hosts_timeout:g}')
  if args.hosts and not args.quiet:
    # JAX ends a process whose peers never join with its own log, after
    # the timeout: say first what it waits for.
    coordinator, num, index = args.hosts
    print(f'process {index} of {num}: joining the others at {coordinator} '
          f'(waiting up to {args.hosts_timeout:g} s)', flush=True)
  try:
    sharding.join_hosts(*args.hosts, timeout_s=args.hosts_timeout)
  except (RuntimeError, ValueError) as e:
    reason = str(e).strip().split('\n')[0]
    raise errors.InputError(
        f'--hosts: could not join the other processes ({reason}); start the '
        f'same command on every host, each with its own index, and check '
        f'that process 0 can be reached at the coordinator\'s address and '
        f'its port is free') from e
  devices = jax.device_count()
  if args.num % devices:
    raise errors.InputError(
        f'--num {args.num} cannot be split evenly over the {devices} devices '
        f'of {jax.process_count()} processes; ask for a multiple of '
        f'{devices}')


def _host_share(args: argparse.Namespace, job: _GenerateJob):
  """(paths, lead): the paths this process writes with --hosts (its
  variations, and on process 0 the grid and sheet; None: all of them), and
  whether it is the lead process (process 0, or the only one)."""
  if not _on_hosts(args):
    return None, True
  import jax  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import sharding  # pylint: disable=g-import-not-at-top
  batch = _batch_size(args, job)
  owned = [start + i for start in range(0, args.num, batch)
           for i in sharding.owned_indices(min(batch, args.num - start))]
  only = {job.paths[i] for i in owned}
  lead = jax.process_index() == 0
  if lead:
    only.update(job.paths[args.num:])
  return only, lead


def _progress(args: argparse.Namespace, say, levels):
  """The progress callback of a run: none with --quiet, a bar with the time
  left on a terminal (stderr), lines printed with `say` elsewhere."""
  if args.quiet:
    return None
  from vgpnn_jax import progress  # pylint: disable=g-import-not-at-top
  return progress.progress_for(levels, say=say)


def _check_generate_counts(args: argparse.Namespace) -> None:
  from vgpnn_jax import errors  # pylint: disable=g-import-not-at-top
  if args.num < 1:
    raise errors.InputError(f'--num must be at least 1, got {args.num}')
  if args.levels is not None and args.levels < 1:
    raise errors.InputError(f'--levels must be at least 1, got {args.levels}')
  _check_seed(args.seed)


def _run_generate(args: argparse.Namespace) -> int:
  """`generate` on one input, or on each input of a folder of videos
  (`batch`); returns the exit status."""
  from vgpnn_jax import io  # pylint: disable=g-import-not-at-top
  _check_generate_counts(args)
  _check_crf(args)
  if io.holds_videos(args.input):
    if args.dry_run or args.report:
      from vgpnn_jax import errors  # pylint: disable=g-import-not-at-top
      flag = '--dry-run plans' if args.dry_run else '--report evaluates'
      raise errors.InputError(
          f'{flag} one input; give it one video of the folder (or run '
          f'evaluate on the outputs of each)')
    if _on_hosts(args):
      from vgpnn_jax import errors  # pylint: disable=g-import-not-at-top
      raise errors.InputError('--hosts runs one input; give it one video of '
                              'the folder')
    from vgpnn_jax import batch  # pylint: disable=g-import-not-at-top
    return batch.run_folder(args, _generate_overrides(args))
  _check_not_empty(args.input)
  if _on_hosts(args) and not args.dry_run:
    _join_hosts(args)  # before any other use of JAX
  say = (lambda *a: None) if args.quiet else print
  # With --hosts the processes share --out: it is made and kept, since one
  # process removing its probe folder would fail another's check.
  out_dir = (io.ensure_writable_dir if _on_hosts(args) and not args.dry_run
             else io.check_writable_dir)(args.out)
  overrides = _generate_overrides(args)
  start = time.perf_counter()
  job = _plan_generate(args, args.input, out_dir, overrides, [args.input],
                       read=not args.dry_run)
  if args.dry_run:
    print(f'input {args.input}: {_describe(job, args.num)}')
    print(_plan_table(job.levels, job.shape[3], args.num, job.config,
                      job.paths, verb='would write'))
    if job.windows is not None:
      print(job.windows)
    if job.refusal is not None:
      raise job.refusal  # the plan shown, then why it cannot run (exit 2)
    print(_time_estimate(job, args.num))
    return 0
  say(f'input {args.input}: {_describe(job, args.num)}')
  _say_plan(args, job.levels, job.shape[3], job.config, job.paths)
  if job.windows is not None:
    say(job.windows)
  outputs = _generate(args, job, say)
  gen_seconds = time.perf_counter() - start
  only, lead = _host_share(args, job)
  # Only the lead process removes stale outputs and reports.
  _write_results(out_dir, job.paths, job.stale if lead else [], outputs,
                 [job.video], job.fps, start, gen_seconds,
                 'the input beside the outputs', 'variation', crf=args.crf,
                 only=only)
  if lead:
    _report(args, job.video, outputs, job.paths, args.input)
  return 0


def _check_not_empty(path: str) -> None:
  """InputError for a folder with neither videos nor frames: `generate`
  takes both kinds of folder, so the message names both."""
  from vgpnn_jax import errors  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import io  # pylint: disable=g-import-not-at-top
  folder = pathlib.Path(path).expanduser()
  if folder.is_dir() and not io.list_inputs(folder):
    raise errors.InputError(
        f"cannot read '{folder}': the folder holds no videos "
        f"({' '.join(io.VIDEO_EXTENSIONS)}) and no frames "
        f"({' '.join(io.IMAGE_EXTENSIONS)}); put videos in it (each gets "
        f'its own --out subfolder) or numbered frames 1.png, 2.png, ...')


def _read(path: str, args: argparse.Namespace):
  from vgpnn_jax import io  # pylint: disable=g-import-not-at-top
  first, stop, step = args.frames
  return io.read_video(path, max_size=args.max_size, start=first, stop=stop,
                       step=step)


def _inpaint_region(args: argparse.Namespace, video):
  """(mask, cue) of `inpaint` from --mask, --box or --cue."""
  from vgpnn_jax import edit  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import errors  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import io  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  given = [flag for flag, value in (('--mask', args.mask), ('--box', args.box),
                                    ('--cue', args.cue)) if value is not None]
  if given not in (['--mask'], ['--box'], ['--cue'], ['--mask', '--cue']):
    raise errors.InputError(
        'inpaint takes the region as one of --mask MASK, --box '
        'T0:T1,Y0:Y1,X0:X1 or --cue PAINTED (--cue may come with --mask)')
  first, stop, step = args.frames
  cue = None
  if args.cue is not None:
    cue, _ = _read(args.cue, args)
    if cue.shape != video.shape:
      raise errors.InputError(
          f'the cue {args.cue} is {cue.shape[0]} frames of {cue.shape[1]}x'
          f'{cue.shape[2]}, the input {video.shape[0]} of {video.shape[1]}x'
          f'{video.shape[2]}; paint over a copy of the input itself')
  if args.mask is not None:
    mask = io.read_mask(args.mask, size=video.shape[:3], start=first,
                        stop=stop, step=step)
  elif args.box is not None:
    info = io.video_info(args.input)
    frames = range(info.num_frames)[slice(first, stop, step)]
    mask = io.box_mask(io.parse_box(args.box), size=video.shape[:3],
                       frame_indices=list(frames)[:video.shape[0]],
                       source_hw=(info.height, info.width))
  else:
    mask = np.asarray(edit.cue_mask(cue, video))
  return mask, cue


def _edit_overrides(args: argparse.Namespace) -> dict:
  """The `Config` overrides of the options `_add_edit_options` adds."""
  from vgpnn_jax import errors  # pylint: disable=g-import-not-at-top
  if args.num < 1:
    raise errors.InputError(f'--num must be at least 1, got {args.num}')
  if args.level is not None and args.level < 1:
    raise errors.InputError(f'--level must be at least 1, got {args.level}')
  _check_seed(args.seed)
  overrides = {'search': args.search}
  if args.level is not None:
    overrides['max_levels'] = args.level
  if args.noise is not None:
    overrides.update(noise_std=args.noise, noise_unit='value')
  if args.patch is not None:
    overrides['patch_size'] = args.patch
  if args.iters is not None:
    if args.iters < 1:
      raise errors.InputError(f'--iters must be at least 1, got {args.iters}')
    overrides['num_iters'] = args.iters
  _checked_config(overrides, '--level')
  return overrides


def _run_edit(args: argparse.Namespace) -> None:
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import edit  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import errors  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import generation  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import io  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import memory  # pylint: disable=g-import-not-at-top

  say = (lambda *a: None) if args.quiet else print
  overrides = _edit_overrides(args)
  _check_crf(args)
  out_dir = io.check_writable_dir(args.out)
  start = time.perf_counter()
  if args.command == 'inpaint':
    video, fps = _read(args.input, args)
    mask, cue = _inpaint_region(args, video)
    panels = [video, io.tint_region(video, mask) if cue is None else
              np.where(mask[..., None], cue, video)]
    run = lambda keys, progress: edit.inpaint(
        keys, video, mask, cue=cue, blend_seams=args.blend_seams,
        progress=progress, **overrides)
    config = edit.application_config(None, edit.INPAINT_DEFAULTS, overrides,
                                     video.shape[0])
    if config.max_levels is None:  # as inpaint chooses them
      config = config._replace(max_levels=edit.usable_levels(
          np.asarray(mask, bool), video, config))
    plan_video, what = video, 'fill(s)'
    inputs = [args.input, args.mask, args.cue]
  else:
    if args.with_original and args.values is None:
      raise errors.InputError('--with-original needs --values OTHER')
    video, fps = _read(args.original, args)
    edited, _ = _read(args.edited, args)
    if edited.shape != video.shape:
      raise errors.InputError(
          f'the edit {args.edited} is {edited.shape[0]} frames of '
          f'{edited.shape[1]}x{edited.shape[2]}, the original '
          f'{video.shape[0]} of {video.shape[1]}x{video.shape[2]}; edit a '
          f'copy of the original at its size')
    first, stop, step = args.frames
    mask = None if args.mask is None else io.read_mask(
        args.mask, size=video.shape[:3], start=first, stop=stop, step=step)
    values = None if args.values is None else _read(args.values, args)[0]
    panels = [video, edited]
    run = lambda keys, progress: edit.edit(
        keys, video, edited, mask=mask, values=values,
        with_original=args.with_original, progress=progress, **overrides)
    config = edit.application_config(None, edit.EDIT_DEFAULTS, overrides,
                                     video.shape[0])
    plan_video = video if values is None else values
    what = 'result(s)'
    inputs = [args.original, args.edited, args.mask, args.values]
  levels = generation.plan_levels(plan_video.shape[:3], config,
                                  plan_video.shape[3])
  memory.check_fits(levels, video.shape[3], args.num,
                    chunk_size=config.chunk_size, config=config)
  paths, stale = _plan_outputs(args, out_dir, args.command, video.shape[0],
                               inputs)
  say(f'input {getattr(args, "input", None) or args.original}: '
      f'{video.shape[0]} frames of {video.shape[1]}x{video.shape[2]} at '
      f'{fps:g} fps; {args.num} {what}, {len(levels)} levels')
  _say_plan(args, levels, video.shape[3], config, paths)
  _enable_compilation_cache()
  keys = _seed_keys(args.seed, args.num)
  outputs = run(keys, _progress(args, say, levels))
  outputs = np.asarray(jax.device_get(outputs))
  gen_seconds = time.perf_counter() - start
  _write_results(out_dir, paths, stale, outputs, panels, fps, start,
                 gen_seconds, 'the input and region beside the outputs' if
                 args.command == 'inpaint' else
                 'the original and edit beside the outputs', 'output',
                 crf=args.crf)
  _report(args, video, outputs, paths,
          getattr(args, 'input', None) or args.original)


def _run_analogy(args: argparse.Namespace) -> None:
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import analogy  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import errors  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import generation  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import io  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import memory  # pylint: disable=g-import-not-at-top

  say = (lambda *a: None) if args.quiet else print
  overrides = _edit_overrides(args)
  _check_crf(args)
  options = {}
  if args.structure_weight is not None:
    if args.structure_weight < 0:
      raise errors.InputError(
          f'--structure-weight must be >= 0, got {args.structure_weight}')
    options['structure_weight'] = args.structure_weight
  if args.cue_levels is not None:
    if args.cue_levels < 0:
      raise errors.InputError(
          f'--cue-levels must be >= 0, got {args.cue_levels}')
    options['cue_levels'] = args.cue_levels
  out_dir = io.check_writable_dir(args.out)
  start = time.perf_counter()
  structure_path = getattr(args, 'structure', None) or args.sketch
  structure, fps = _read(structure_path, args)
  appearance, _ = _read(args.appearance, args)
  if args.command == 'sketch':
    analogy.check_sketch(structure)
  if (structure.shape[0] == 1) != (appearance.shape[0] == 1):
    raise errors.InputError(
        f'{structure_path} has {structure.shape[0]} frame(s), '
        f'{args.appearance} {appearance.shape[0]}: give two videos or two '
        f'images')
  fitted = np.asarray(analogy.fit_appearance(appearance, structure.shape[:3]))
  if fitted.shape[1:3] != appearance.shape[1:3]:
    say(f'note: the appearance ({appearance.shape[1]}x{appearance.shape[2]})'
        f' is resized to the structure\'s height: {fitted.shape[1]}x'
        f'{fitted.shape[2]}')
  if fitted.shape[:3] != structure.shape[:3]:
    say(f'note: rendered at the structure\'s size, {structure.shape[0]} '
        f'frames of {structure.shape[1]}x{structure.shape[2]} (the '
        f'appearance has {fitted.shape[0]} of {fitted.shape[1]}x'
        f'{fitted.shape[2]})')
  defaults = (analogy.IMAGE_ANALOGY_DEFAULTS if structure.shape[0] == 1 else
              analogy.SKETCH_DEFAULTS if args.command == 'sketch' else
              analogy.ANALOGY_DEFAULTS)
  config = analogy.render_config(structure.shape[:3], fitted.shape[:3],
                                 defaults, None, overrides)
  levels = generation.plan_levels(fitted.shape[:3], config, fitted.shape[3])
  memory.check_fits(levels, fitted.shape[3] + 1, args.num,
                    chunk_size=config.chunk_size, config=config)
  paths, stale = _plan_outputs(args, out_dir, args.command,
                               structure.shape[0],
                               [structure_path, args.appearance])
  say(f'structure {structure_path}: {structure.shape[0]} frames of '
      f'{structure.shape[1]}x{structure.shape[2]} at {fps:g} fps; '
      f'appearance {args.appearance}; {args.num} result(s), {len(levels)} '
      f'levels')
  _say_plan(args, levels, fitted.shape[3] + 1, config, paths)
  _enable_compilation_cache()
  keys = _seed_keys(args.seed, args.num)
  render = analogy.sketch if args.command == 'sketch' else analogy.analogy
  # The fitted appearance: `fit_appearance` leaves it as it is.
  outputs = render(keys, structure, fitted,
                   progress=_progress(args, say, levels),
                   **options, **overrides)
  outputs = np.asarray(jax.device_get(outputs))
  gen_seconds = time.perf_counter() - start
  _write_results(out_dir, paths, stale, outputs, [structure, fitted], fps,
                 start, gen_seconds,
                 f'the {"structure" if args.command == "analogy" else "sketch"}'
                 ' and appearance beside the outputs', 'output', crf=args.crf)
  _report(args, fitted, outputs, paths, args.appearance)  # the look's source


def _run_make_sketch(args: argparse.Namespace) -> None:
  from vgpnn_jax import errors  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import io  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import sketches  # pylint: disable=g-import-not-at-top
  if (args.input is None) == (args.disc is None):
    raise errors.InputError('make-sketch takes INPUT or --disc TxHxW (one '
                            'of them)')
  out = pathlib.Path(args.out).expanduser()
  _check_targets([out], _input_files([args.input]), args.overwrite,
                 'another --out FILE')
  io.check_writable_dir(out.parent)
  fps = 10.0
  if args.disc is not None:
    parts = args.disc.lower().split('x')
    try:
      size = tuple(int(p) for p in parts)
    except ValueError:
      size = ()
    if len(size) != 3 or min(size) < 1:
      raise errors.InputError(f'--disc takes TxHxW, e.g. 13x144x256; got '
                              f'{args.disc!r}')
    if args.colours is not None:
      raise errors.InputError('--colours is for the sketch of a video; a '
                              '--disc sketch has three (sky, ground, disc)')
    drawing = sketches.moving_disc(size)
  else:
    colours = 4 if args.colours is None else args.colours
    if colours < 2:
      raise errors.InputError(f'--colours must be at least 2, got {colours}')
    video, fps = _read(args.input, args)
    from vgpnn_jax import analogy  # pylint: disable=g-import-not-at-top
    if float(video.std(axis=(0, 1, 2)).max()) < analogy.MIN_SKETCH_SPREAD:
      raise errors.InputError(
          f'{args.input} has a single colour: its sketch would have no '
          f'regions; sketch a video with some content (or use --disc)')
    drawing = sketches.from_video(video, colours)
  io.write_video(args.out, drawing, fps=fps)
  print(f'wrote the sketch {args.out}: {drawing.shape[0]} frames of '
        f'{drawing.shape[1]}x{drawing.shape[2]}; draw over it or render it '
        f'with: python -m vgpnn_jax sketch {args.out} APPEARANCE')


def _write_outputs(paths, stale, outputs, panels, fps, only=None,
                   crf=None) -> None:
  """Writes `paths` (`output_paths`: one per output, the grid of `panels`
  and the outputs, the contact sheet), or those of them in `only`, then
  removes the `stale` outputs; `crf`: the H.264 quality of the mp4s."""
  from vgpnn_jax import io  # pylint: disable=g-import-not-at-top
  numbered, (grid_path, *sheet) = paths[:len(outputs)], paths[len(outputs):]
  assert len(numbered) == len(outputs) and len(sheet) <= 1, (paths, outputs)
  wanted = lambda path: only is None or path in only
  mp4 = lambda path: {'crf': crf} if path.suffix == '.mp4' else {}
  for path, output in zip(numbered, outputs):
    if not wanted(path):
      continue
    if is_frame_folder(path):
      io.write_frames(path, output, fps=fps)
    else:
      io.write_video(path, output, fps=fps, **mp4(path))
  shown = list(panels) + list(outputs)
  if wanted(grid_path):
    io.write_video(grid_path, io.make_grid(shown), fps=fps, **mp4(grid_path))
  for path in sheet:
    if wanted(path):
      io.write_video(path, io.contact_sheet(shown), fps=fps)
  for path in stale:
    if path.is_dir():
      shutil.rmtree(path, ignore_errors=True)
    else:
      with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _write_results(out_dir, paths, stale, outputs, panels, fps, start,
                   gen_seconds, grid_shows, noun, crf=None, only=None):
  """Writes `paths` (`output_paths`), or those in `only`, then removes the
  `stale` outputs."""
  numbered, (grid_path, *sheet) = paths[:len(outputs)], paths[len(outputs):]
  _write_outputs(paths, stale, outputs, panels, fps, only=only, crf=crf)
  removed = (f'; removed {len(stale)} stale output(s) numbered from '
             f'{len(numbered):03d}' if stale else '')
  also = f' and {sheet[0].name}' if sheet else ''
  if only is not None:  # --hosts: this process's share
    written = [p for p in numbered if p in only]
    print(f'wrote {len(written)} of the {len(numbered)} {noun}(s) '
          f'({", ".join(p.name for p in written) or "none"})'
          f'{f", {grid_path.name}{also}" if grid_path in only else ""} to '
          f'{out_dir}/ in {time.perf_counter() - start:.1f} s (generation '
          f'{gen_seconds:.1f} s){removed}')
    return
  if numbered and is_frame_folder(numbered[0]):
    noun += '(s) (folders of PNG frames)'
  else:
    noun += '(s)'
  print(f'wrote {len(numbered)} {noun}, {grid_path.name}{also} to '
        f'{out_dir}/ in {time.perf_counter() - start:.1f} s (generation '
        f'{gen_seconds:.1f} s){removed}; open {grid_path} to see '
        f'{grid_shows}')


def _report(args: argparse.Namespace, reference, outputs,
            paths: Sequence[pathlib.Path], reference_name: str) -> None:
  """With --report, prints `report.evaluate_videos` of `outputs: [N, T, H,
  W, 3]` (as generated, before the 8-bit rounding) against `reference: [T,
  H, W, 3]`, named by their `paths`, keyed by --seed as `evaluate` is."""
  if not args.report:
    return
  from vgpnn_jax import report  # pylint: disable=g-import-not-at-top
  names = [str(p) for p in paths[:len(outputs)]]
  results = report.evaluate_videos(reference, list(outputs), names=names,
                                   reference_name=str(reference_name),
                                   **_report_options(args.seed, reference,
                                                     outputs))
  print(report.format_table(results), end='')


def _report_options(seed: int, reference, outputs=()) -> dict:
  """`report.evaluate_videos`' options of --report.

  The metrics' 3x7x7 patches shrink to the smallest of `reference: [T, H, W,
  3]` and `outputs` (each [T', H', W', 3]): a one-frame input gets one-frame
  patches, and a video that was generated with smaller patches than the
  metrics' is still evaluated, rather than refused after its outputs were
  written.
  """
  from vgpnn_jax import generation  # pylint: disable=g-import-not-at-top
  sizes = [reference.shape[:3]] + [o.shape[:3] for o in outputs]
  patch_size = tuple(min([p] + [s[i] for s in sizes])
                     for i, p in enumerate((3, 7, 7)))
  return dict(key=generation.key_for_seed(seed), patch_size=patch_size,
              max_patches=_REPORT_PATCHES, swd_max_patches=_REPORT_SWD_PATCHES)


def _run_evaluate(args: argparse.Namespace) -> None:
  from vgpnn_jax import errors  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import report  # pylint: disable=g-import-not-at-top
  first, stop, step = args.frames
  if step != 1:
    raise errors.InputError('evaluate takes --frames START:STOP without a '
                            'step; drop the step')
  if args.max_patches < 0:
    raise errors.InputError(f'--max-patches must be >= 0 (0: all patches), '
                            f'got {args.max_patches}')
  _check_seed(args.seed)
  results = report.evaluate_files(
      args.input, args.outputs, max_size=args.max_size, start=first or 0,
      stop=stop, max_patches=args.max_patches or None, seed=args.seed)
  print(report.to_json(results) if args.json else report.format_table(
      results))


class _Terminated(KeyboardInterrupt):
  """SIGTERM, raised where Python runs next, as Ctrl-C raises
  KeyboardInterrupt: the same clean-up runs (a partly written file is
  removed)."""


def _raise_terminated(signum, frame):
  del signum, frame
  raise _Terminated()


@contextlib.contextmanager
def _handling_sigterm():
  """SIGTERM raises `_Terminated` inside the block; the old handler after."""
  try:
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
  except ValueError:  # not the main thread: signals are not ours to set
    previous = None
  try:
    yield
  finally:
    if previous is not None:
      signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _input_warnings_as_lines():
  """Prints each `errors.InputWarning` as one 'warning: ...' line."""
  from vgpnn_jax import errors  # pylint: disable=g-import-not-at-top
  with warnings.catch_warnings():
    show = warnings.showwarning

    def show_line(message, category, *args, **kwargs):
      if issubclass(category, errors.InputWarning):
        print(f'warning: {message}', file=sys.stderr)
      else:
        show(message, category, *args, **kwargs)

    warnings.simplefilter('always', errors.InputWarning)
    warnings.showwarning = show_line
    yield


def main(argv: Sequence[str] | None = None) -> int:
  """Runs the command line; returns the exit status."""
  parser = _build_parser()
  argv = list(sys.argv[1:] if argv is None else argv)
  # The main job (no arguments) may be rerun: it replaces its own outputs in
  # outputs/ (only the numbered variations and the grid, never an input).
  args = parser.parse_args(argv or ['generate', '--overwrite'])
  with _handling_sigterm(), _input_warnings_as_lines():
    return _dispatch(args)


def _dispatch(args: argparse.Namespace) -> int:
  """Runs a parsed command; returns the exit status."""
  from vgpnn_jax import errors  # pylint: disable=g-import-not-at-top
  try:
    if args.command == 'evaluate':
      _run_evaluate(args)
    elif args.command in ('inpaint', 'edit'):
      _run_edit(args)
    elif args.command in ('analogy', 'sketch'):
      _run_analogy(args)
    elif args.command == 'make-sketch':
      _run_make_sketch(args)
    else:
      return _run_generate(args)
  except errors.InputError as e:
    print(f'error: {e}', file=sys.stderr)
    return EXIT_BAD_INPUT
  except _Terminated:
    print('terminated', file=sys.stderr)
    return EXIT_TERMINATED
  except KeyboardInterrupt:
    print('interrupted', file=sys.stderr)
    return EXIT_INTERRUPTED
  return 0
