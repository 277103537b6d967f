"""Reading video files: mediapy's reader (before issue 19.3) against PyAV's.

Each case runs in a fresh subprocess of this script, so that its peak resident
memory (`ru_maxrss`) is its own; "grown" is that peak less the child's peak
after its imports, i.e. what the read itself added; "ffmpeg" is the largest
peak of the ffmpeg processes mediapy starts (its `ffmpeg -version` check
among them; PyAV decodes in-process and starts none).

- "mediapy": the reader read_video used before: `mediapy.VideoReader`, whose
  `__enter__` runs one ffmpeg pass over the whole file for the header, then an
  ffmpeg pipe whose frames before `start` are converted and thrown away.
  video_info entered the reader and decoded one or two frames.
- "pyav": io.read_video / io.video_info now (video_files.py): the frame count
  from the header or the packets, a keyframe seek near `start`, decoding
  stopped at `stop`.

Both must give the same frames: each read's uint8 pixels are hashed and the
row "same result" compares the two (and video_info's four numbers).

    python experiments/bench_reading.py            # the shared 720p clip
    python experiments/bench_reading.py --out experiments/results/reading.md
"""

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, _ROOT)

_DATA = '/work/shared/data'
# (file, what, start, stop): what is 'read' (read_video) or 'info'.
_CASES = [
    ('bigbuckbunny_720p.mp4', 'read', 120, 132),
    ('bigbuckbunny_720p.mp4', 'read', None, None),
    ('bigbuckbunny_720p.mp4', 'info', None, None),
    # A keyframe every 250 frames: the seek skips decoding 750 frames.
    ('pedestrians_vtest.avi', 'read', 760, 795),
    ('pedestrians_vtest.avi', 'info', None, None),
]

_NOTES = """\
- bigbuckbunny_720p.mp4 has one keyframe, frame 0: reading 120:132 still
  decodes 120 frames first; the time saved is mediapy's header pass (a whole
  decode, as the info rows show) and the RGB conversion of the skipped frames.
- pedestrians_vtest.avi has a keyframe every 250 frames: 760:795 seeks to 750
  and decodes 45 frames instead of 795 (plus the header pass).
- Reading all frames costs the same memory either way: the float32 result
  (132 x 720 x 1280 x 3 x 4 bytes = 1.46 GB) dominates.
- Same frames: the hashes match; over the shared data files (.mp4 .avi .mj2)
  and the bundled sample the largest difference to mediapy's frames is 0.
"""


def _mediapy_read(path, start, stop):
  """read_video's file path before issue 19.3 (mediapy.VideoReader)."""
  from vgpnn_jax import io  # pylint: disable=g-import-not-at-top

  assembler = io._Assembler(path, None)  # pylint: disable=protected-access
  start = start or 0
  with io._mediapy(path).VideoReader(path) as reader:  # pylint: disable=protected-access
    for i, frame in enumerate(reader):
      if stop is not None and i >= stop:
        break
      if i >= start:
        assembler.add(frame)
  return assembler.result()


def _mediapy_info(path):
  """video_info before issue 19.3: the header pass and one frame."""
  from vgpnn_jax import io  # pylint: disable=g-import-not-at-top

  with io._mediapy(path).VideoReader(path) as reader:  # pylint: disable=protected-access
    first = reader.read()
    return (reader.num_images, *first.shape[:2], reader.fps)


def _child(backend, name, what, start, stop):
  """Runs one case; prints its seconds, memory and result as JSON."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import io  # pylint: disable=g-import-not-at-top

  if backend == 'mediapy':
    io._mediapy(name)  # pylint: disable=protected-access
  else:
    from vgpnn_jax import video_files  # pylint: disable=g-import-not-at-top,unused-import
    video_files._av()  # pylint: disable=protected-access
  path = os.path.join(_DATA, name)
  base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  begin = time.perf_counter()
  if what == 'info':
    if backend == 'mediapy':
      result = list(_mediapy_info(path))
    else:
      result = list(io.video_info(path))
    seconds = time.perf_counter() - begin
  else:
    if backend == 'mediapy':
      video = _mediapy_read(path, start, stop)
    else:
      video = io.read_video(path, start=start, stop=stop)[0]
    seconds = time.perf_counter() - begin
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  ffmpeg = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
  if what == 'read':
    # The frames as they were decoded (uint8), to compare the two readers;
    # after the peak is taken, frame by frame.
    digest = hashlib.sha1()
    for frame in video:
      digest.update(np.rint(frame * 255).astype(np.uint8).tobytes())
    result = [*video.shape, digest.hexdigest()[:12]]
  print(json.dumps(dict(seconds=seconds, base_kib=base, peak_kib=peak,
                        ffmpeg_kib=ffmpeg, result=result)))


def _run(backend, case):
  name, what, start, stop = case
  args = [sys.executable, __file__, '--child', backend, name, what,
          str(start), str(stop)]
  out = subprocess.run(args, stdout=subprocess.PIPE, text=True, check=True,
                       env=dict(os.environ, PYTHONPATH=_ROOT)).stdout
  return json.loads(out.strip().splitlines()[-1])


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--out', help='also write the table to this file')
  parser.add_argument('--child', nargs=5, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.child:
    backend, name, what, start, stop = args.child
    as_int = lambda s: None if s == 'None' else int(s)
    _child(backend, name, what, as_int(start), as_int(stop))
    return

  rows = ['| file | what | frames | backend | seconds | peak RSS MiB |'
          ' grown MiB | ffmpeg MiB | result |', '|' + '---|' * 9]
  for case in _CASES:
    name, what, start, stop = case
    frames = 'all' if start is None and stop is None else f'{start}:{stop}'
    digests = {}
    for backend in ('mediapy', 'pyav'):
      r = _run(backend, case)
      peak = r['peak_kib'] / 1024
      grown = (r['peak_kib'] - r['base_kib']) / 1024
      rows.append(f'| {name} | {what} | {frames} | {backend} |'
                  f" {r['seconds']:.2f} | {peak:.0f} | {grown:.0f} |"
                  f" {r['ffmpeg_kib'] / 1024:.0f} | {tuple(r['result'])} |")
      print(rows[-1], flush=True)
      digests[backend] = r['result']
    same = digests['mediapy'] == digests['pyav']
    rows.append(f"| | | | {'same' if same else 'DIFFERENT'} result |"
                ' | | | | |')
  table = '\n'.join(rows)
  print(table)
  if args.out:
    import av  # pylint: disable=g-import-not-at-top
    with open(args.out, 'w', encoding='utf-8') as f:
      f.write(f'# Reading video files: mediapy against PyAV {av.__version__}'
              f'\n\n`python experiments/bench_reading.py --out {args.out}`'
              f' on {os.cpu_count()} CPU cores (shared; times vary by about'
              ' 20% between runs). One process per row; see the docstring'
              ' for the columns.\n\n' + table + '\n\n' + _NOTES)


if __name__ == '__main__':
  main()
