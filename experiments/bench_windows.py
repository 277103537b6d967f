"""Temporal windows at the fine levels against none: seconds, memory, quality.

Each mode (the whole clip at every level; the finest levels in windows,
`Config.window_frames`) generates variations of the same clip with the same
keys, each in a fresh subprocess, whose peak resident memory is its
`ru_maxrss` (from `os.wait4`: at these sizes the finest level's). This
process then scores the outputs against the input: coherence
(`metrics.coherence`, 3x7x7 patches, sampled query patches) and a temporal
seam ratio, the mean absolute frame-to-frame change across the finest
level's window overlaps (each pair of frames with one in a blend) over the
mean elsewhere. The same frames are scored for the unwindowed output and
the input, whose ratios say how much of it the clip's own motion makes.

    python experiments/bench_windows.py        # 26x144x256, 2 windows of 15
    python experiments/bench_windows.py --frames 39 --window 16 --overlap 4
    python experiments/bench_windows.py --modes windowed --num 1  # one mode
    # windows whose keys are their own frames and 4 more either side
    python experiments/bench_windows.py --modes whole,windowed,keys \
        --key-margin 4

Each mode's row gives `memory.estimate_bytes` of its request (with its
windows and the structure guard, as `generate` checks it) beside the peak.
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time

import numpy as np

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, _ROOT)

import bench_memory  # pylint: disable=g-import-not-at-top,wrong-import-position

_CLIP = os.path.join(_ROOT, '..', 'shared', 'data', 'bigbuckbunny_720p.mp4')


MODES = ('whole', 'windowed', 'keys')


def _config(args: argparse.Namespace, mode: str):
  """The config of a mode: 'whole', 'windowed' (the whole input level as
  every window's keys) or 'keys' (windows with `--key-margin`)."""
  from vgpnn_jax import generation  # pylint: disable=g-import-not-at-top
  overrides = {}
  if mode != 'whole':
    overrides = dict(window_frames=args.window, window_overlap=args.overlap,
                     window_levels=args.levels)
  if mode == 'keys':
    overrides['window_key_margin'] = args.key_margin
  return generation.make_config(**overrides)


def _read(args: argparse.Namespace) -> np.ndarray:
  from vgpnn_jax import io  # pylint: disable=g-import-not-at-top
  video, _ = io.read_video(args.clip, max_size=args.max_size,
                           start=args.start, stop=args.start + args.frames)
  return video


def run_mode(args: argparse.Namespace, mode: str, out: str) -> dict:
  """The subprocess side: generates `args.num` variations, saves them."""
  import jax  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import generation  # pylint: disable=g-import-not-at-top
  cache = os.environ.get('VGPNN_JAX_CACHE')
  if cache:  # as the command line: compiled programs kept across runs
    jax.config.update('jax_compilation_cache_dir', cache)
    jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.2)
  video = _read(args)
  config = _config(args, mode)
  outputs, seconds = [], []
  for seed in range(args.num):
    start = time.perf_counter()
    outputs.append(np.asarray(generation.generate(jax.random.key(seed), video,
                                                  config)))
    seconds.append(time.perf_counter() - start)
  np.save(out, np.stack(outputs))
  return {'seconds': seconds}


def measure(args: argparse.Namespace, mode: str, out: str) -> dict:
  """Runs one mode in a subprocess: its seconds and peak RSS in bytes."""
  command = [sys.executable, os.path.abspath(__file__), '--one', out,
             '--clip', args.clip, '--frames', str(args.frames),
             '--start', str(args.start),
             '--max-size', str(args.max_size), '--window', str(args.window),
             '--overlap', str(args.overlap), '--levels', str(args.levels),
             '--num', str(args.num), '--key-margin', str(args.key_margin),
             '--mode', mode]
  return bench_memory.run_measured(command, f'mode={mode}')


def border_pairs(windows, frames: int) -> np.ndarray:
  """[frames - 1] bool: frame pairs (t, t + 1) with a frame in an overlap.

  Args:
    windows: the finest level's `generation.Windows`.
    frames: the output's frames (the finest level's).
  """
  blended = np.zeros(frames, bool)
  for previous, start in zip(windows.starts, windows.starts[1:]):
    blended[start:previous + windows.size] = True
  return blended[:-1] | blended[1:]


def seam_ratio(video: np.ndarray, border: np.ndarray) -> float:
  """Mean |frame t+1 - frame t| over the `border` pairs over the others."""
  change = np.abs(np.diff(video.astype(np.float64), axis=0)).mean(
      axis=(1, 2, 3))
  return float(change[border].mean() / change[~border].mean())


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--clip', default=_CLIP)
  parser.add_argument('--frames', type=int, default=26)
  parser.add_argument('--max-size', type=int, default=144)
  parser.add_argument('--window', type=int, default=15,
                      help='window_frames (frames per window)')
  parser.add_argument('--overlap', type=int, default=4,
                      help='window_overlap')
  parser.add_argument('--levels', type=int, default=2,
                      help='window_levels (finest levels in windows)')
  parser.add_argument('--key-margin', type=int, default=4,
                      help='window_key_margin of the keys mode')
  parser.add_argument('--start', type=int, default=0,
                      help='first frame of the clip')
  parser.add_argument('--num', type=int, default=2,
                      help='variations per mode (seeds 0, 1, ...)')
  parser.add_argument('--max-patches', type=int, default=2048,
                      help='query patches sampled for coherence')
  parser.add_argument('--keep', default=None,
                      help='folder to keep the outputs in (whole.npy, '
                      'windowed.npy, keys.npy: [num, T, H, W, 3])')
  parser.add_argument('--score', default=None, metavar='DIR',
                      help='only score the outputs kept in DIR by --keep')
  parser.add_argument('--modes', default='whole,windowed',
                      help='comma-separated modes to run: whole, windowed, '
                      'keys')
  parser.add_argument('--mode', default='whole', help=argparse.SUPPRESS)
  parser.add_argument('--one', default=None, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.one:  # the subprocess side
    print(json.dumps(run_mode(args, args.mode, args.one)))
    return
  import jax  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import generation  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import memory  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import metrics  # pylint: disable=g-import-not-at-top
  video = _read(args)
  levels = generation.plan_levels(video.shape[:3], _config(args, 'windowed'))
  windows = generation.level_windows(levels, _config(args, 'keys'))
  border = border_pairs(windows[0], video.shape[0])
  print(f"clip {os.path.basename(args.clip)} from frame {args.start}, "
        f'{"x".join(map(str, video.shape[:3]))}, {len(levels)} levels, '
        f'{args.num} variation(s) per mode, default config otherwise')
  for index, w in enumerate(windows):
    if w is not None:
      print(f'  level {index} (finest = 0, {levels[index].output_size}): '
            f'windows of {w.size} frames starting at {w.starts}; with '
            f'--key-margin {args.key_margin} keys of {w.key_size} input '
            f'frames starting at {w.key_starts}')
  print(f'  border frame pairs (finest level): '
        f'{np.flatnonzero(border).tolist()}')
  print(f'  input seam ratio on those frames: {seam_ratio(video, border):.3f}')
  gib = 2.0**30
  print()

  def estimate(mode):
    """`memory.estimate_bytes` of one variation (as `generate` checks)."""
    config = _config(args, mode)
    return memory.estimate_bytes(
        levels, video.shape[3], platform='cpu',
        layout_draws=generation.guard_draws(config),
        guard_level=config.guard_level,
        windows=generation.level_windows(levels, config))

  print('| mode | seconds per variation | peak RSS GiB | estimate GiB '
        '(x peak) | coherence | seam ratio |')
  print('|---|---|---|---|---|---|')
  modes = args.modes.split(',')
  with tempfile.TemporaryDirectory() as work:
    for name in [m for m in MODES if m in modes]:
      if args.score:
        result = {'seconds': [math.nan], 'peak_bytes': math.nan}
        outputs = np.load(os.path.join(args.score, name + '.npy'))
      else:
        out = os.path.join(work, f'{name}.npy')
        result = measure(args, name, out)
        outputs = np.load(out)
      if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        np.save(os.path.join(args.keep, name + '.npy'), outputs)
      coherence = [float(metrics.coherence(
          o, video, max_patches=args.max_patches, key=jax.random.key(i)))
                   for i, o in enumerate(outputs)]
      seams = [seam_ratio(o, border) for o in outputs]
      needed = estimate(name)
      name = {'whole': 'whole clip',
              'windowed': f'windows {args.window}/{args.overlap} on '
                          f'{args.levels} level(s)',
              'keys': f'the same, keys +-{args.key_margin} frames'}[name]
      seconds = ', '.join(f'{s:.0f}' for s in result['seconds'])
      print(f'| {name} | {seconds} | {result["peak_bytes"] / gib:.2f} | '
            f'{needed / gib:.2f} ({needed / result["peak_bytes"]:.2f}x) | '
            f'{np.mean(coherence):.3g} ({", ".join(f"{c:.3g}" for c in coherence)}) | '
            f'{np.mean(seams):.3f} ({", ".join(f"{s:.3f}" for s in seams)}) |',
            flush=True)


if __name__ == '__main__':
  main()
