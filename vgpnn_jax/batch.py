"""`generate` on a folder of videos: each input its own DIR/<stem>/.

    python -m vgpnn_jax generate FOLDER --out DIR --num N [options]

Each video (and image) of FOLDER, not of its subfolders, in natural name order
(`io.list_inputs`), gets in DIR/<its name without the extension>/ exactly the
files `generate INPUT --out DIR/<stem>` writes: the same names, the same keys
(from --seed and --num alone), so the same outputs. One line per input reports
it (no lines per level) and a table sums up at the end. DIR/manifest.json,
rewritten atomically after each input, lists for each input its path, status
(pending, ok, skipped, failed or interrupted), output files (relative to DIR),
seconds and error, under the options that made them.

An input that fails (unreadable, too small for the patch, too large for the
memory) is reported and the others go on; the exit status is then 1.

Restart: the same command again skips the inputs whose outputs are all there
(writes are atomic, so a file present is whole), removes the temporary files a
killed run left, and for an input with only some of its outputs generates it
again and writes just the missing files (the same keys give the same outputs,
so the files kept match the new ones). Outputs in DIR that another command
made (other options, or no manifest) are refused as a single input's are;
--overwrite redoes every input.
"""

# This module is part of the command line: it uses cli's helpers for one
# input, so that a folder run writes what a single run writes.
# pylint: disable=protected-access

import argparse
import json
import pathlib
import time
from typing import Any, Sequence

from vgpnn_jax import cli
from vgpnn_jax import errors
from vgpnn_jax import io

MANIFEST = 'manifest.json'
# Options that change no output file: a restart may differ in them.
_NEUTRAL_OPTIONS = ('command', 'input', 'out', 'overwrite', 'quiet',
                    'verbose', 'report')
_STATUSES = ('ok', 'skipped', 'failed')  # the table's counts


def run_folder(args: argparse.Namespace, overrides: dict) -> int:
  """Runs `generate` on every input of the folder `args.input`.

  Args:
    args: `generate`'s parsed options; `args.input` is a folder holding at
      least one video (`io.holds_videos`).
    overrides: the checked `Config` overrides (`cli._generate_overrides`).

  Returns:
    The exit status: 0, or 1 if an input failed.

  Raises:
    errors.InputError: before anything is written: --out cannot be a folder,
      two inputs share a name, or DIR holds outputs this command did not make.
  """
  folder = pathlib.Path(args.input).expanduser()
  inputs = io.list_inputs(folder)
  out_dir = io.check_writable_dir(args.out)
  _check_names(inputs, out_dir)
  options = _options(args, folder)
  keep = _keeps_existing(args, inputs, out_dir, options)
  say = (lambda *a, **k: None) if args.quiet else print
  say(f'folder {folder}: {len(inputs)} input(s), {args.num} output(s) each, '
      f'to {out_dir}/<name>/')
  manifest = {'command': 'generate', 'options': options,
              'inputs': [_entry(path) for path in inputs]}
  io.remove_temporaries(out_dir / MANIFEST)
  _write_manifest(out_dir, manifest)
  for index, (path, entry) in enumerate(zip(inputs, manifest['inputs']), 1):
    label = f'[{index}/{len(inputs)}] {path.name}:'
    try:
      _run_input(args, overrides, path, out_dir, inputs, keep, entry, say,
                 label)
    except KeyboardInterrupt:  # and SIGTERM: the manifest says where it was
      entry['status'] = 'interrupted'
      say()
      _write_manifest(out_dir, manifest)
      raise
    _write_manifest(out_dir, manifest)
  print(_table(manifest['inputs'], out_dir))
  failed = any(e['status'] == 'failed' for e in manifest['inputs'])
  return cli.EXIT_SOME_FAILED if failed else 0


def _entry(path: pathlib.Path) -> dict[str, Any]:
  """An input's manifest entry before it runs."""
  return {'input': str(path), 'status': 'pending', 'outputs': [],
          'seconds': 0.0, 'error': None}


def _run_input(args, overrides, path, out_dir, sources, keep, entry, say,
               label) -> None:
  """Generates one input into DIR/<stem>/ and fills in its `entry`; any
  failure is recorded there, not raised (Ctrl-C and SIGTERM are)."""
  start = time.perf_counter()
  target = out_dir / path.stem
  paths = _predicted_paths(args, path, target)
  started = False
  try:
    _remove_temporaries(paths)
    if keep and _all_exist(paths):  # without reading the input
      _skipped(entry, paths, out_dir, start, say, label)
      return
    job = cli._plan_generate(args, path, target, overrides, sources, keep)
    paths = job.paths  # the predicted ones unless a one-frame output
    _remove_temporaries(paths)
    missing = [p for p in paths if not (keep and p.exists())]
    if not missing:
      _skipped(entry, paths, out_dir, start, say, label)
      return
    windows = '' if job.windows is None else f'; {job.windows}'
    say(f'{label} {cli._describe(job, args.num)}{windows} ...', end='',
        flush=True)
    started = True
    outputs = cli._generate(args, job, lambda *a: None)
    cli._write_outputs(job.paths, job.stale, outputs, [job.video], job.fps,
                       only=missing, crf=args.crf)
  except Exception as e:  # pylint: disable=broad-except
    # One bad input stops none of the others; the manifest keeps the reason.
    message = _one_line(e)
    entry.update(status='failed', error=message,
                 outputs=_relative([p for p in paths if p.exists()], out_dir),
                 seconds=round(time.perf_counter() - start, 2))
    say(f' failed: {message}' if started else f'{label} failed: {message}')
    return
  entry.update(status='ok', outputs=_relative(paths, out_dir),
               seconds=round(time.perf_counter() - start, 2))
  kept = len(paths) - len(missing)
  say(f' ok in {entry["seconds"]:.1f} s' +
      (f' (wrote the {len(missing)} missing file(s), kept {kept})'
       if kept else ''))


def _skipped(entry, paths, out_dir, start, say, label) -> None:
  entry.update(status='skipped', outputs=_relative(paths, out_dir),
               seconds=round(time.perf_counter() - start, 2))
  say(f'{label} skipped: its {len(paths)} files are there already')


def _predicted_paths(args: argparse.Namespace, path: pathlib.Path,
                     target: pathlib.Path) -> list[pathlib.Path]:
  """The files `generate PATH --out TARGET` writes, told from the name alone:
  an image gives PNGs (so does a video cut to one frame, which only reading
  it shows)."""
  image = path.suffix.lower() in io.IMAGE_EXTENSIONS
  fmt = cli.output_format(args.format, 1 if image else 0)
  return cli.output_paths(target, 'variation', args.num, fmt)


def _all_exist(paths: Sequence[pathlib.Path]) -> bool:
  return all(p.is_dir() if cli.is_frame_folder(p) else p.is_file()
             for p in paths)


def _remove_temporaries(paths: Sequence[pathlib.Path]) -> None:
  """Temporary files of a killed run (a run the handlers saw removed its
  own); this folder is this run's alone."""
  for path in paths:
    io.remove_temporaries(path)


def _relative(paths: Sequence[pathlib.Path], out_dir: pathlib.Path):
  return [p.relative_to(out_dir).as_posix() for p in paths]


def _one_line(e: Exception) -> str:
  """An error as one line: an InputError's message, else its type too."""
  lines = [line.strip() for line in str(e).splitlines() if line.strip()]
  text = lines[0] if lines else ''
  if isinstance(e, errors.InputError) and text:
    return text
  return f'{type(e).__name__}: {text}' if text else type(e).__name__


def _check_names(inputs: Sequence[pathlib.Path],
                 out_dir: pathlib.Path) -> None:
  """InputError when two inputs would write to one DIR/<stem>/ (clip.mp4 and
  clip.gif; case-blind, as some file systems are), or one to the
  manifest."""
  seen = {MANIFEST.lower(): None}
  for path in inputs:
    key = path.stem.lower()
    if key in seen:
      other = (f"'{seen[key]}' and '{path}' would both write to "
               f"'{out_dir / path.stem}'" if seen[key] else
               f"'{path}' would write to '{out_dir / path.stem}', the "
               'manifest')
      raise errors.InputError(f'{other}; rename one of them')
    seen[key] = path


def _options(args: argparse.Namespace, folder: pathlib.Path) -> dict:
  """What decides the outputs, as the manifest stores it (JSON types)."""
  options = {k: v for k, v in sorted(vars(args).items())
             if k not in _NEUTRAL_OPTIONS}
  options['folder'] = str(folder.resolve())
  return json.loads(json.dumps(options))


def _read_manifest(out_dir: pathlib.Path) -> dict | None:
  try:
    manifest = json.loads((out_dir / MANIFEST).read_text(encoding='utf-8'))
  except (OSError, ValueError):
    return None
  return manifest if isinstance(manifest, dict) else None


def _write_manifest(out_dir: pathlib.Path, manifest: dict) -> None:
  io.write_text(out_dir / MANIFEST, json.dumps(manifest, indent=2) + '\n')


def _keeps_existing(args: argparse.Namespace,
                    inputs: Sequence[pathlib.Path], out_dir: pathlib.Path,
                    options: dict) -> bool:
  """Whether outputs already in DIR are kept (a restart of this command).

  Raises:
    errors.InputError: without --overwrite, DIR holds outputs of the inputs
      that another command made (other options, or no manifest).
  """
  if args.overwrite:
    return False
  previous = _read_manifest(out_dir)
  if previous is not None and previous.get('options') == options:
    return True
  existing = [p for path in inputs
              for p in _predicted_paths(args, path, out_dir / path.stem)
              if p.exists() or p.is_symlink()]
  if not existing:
    return False
  if previous is None:
    raise errors.InputError(
        f"'{existing[0]}' already exists; pass --overwrite to replace it, "
        f'or choose another --out folder')
  old = previous.get('options')
  old = old if isinstance(old, dict) else {}
  changed = [('the input folder' if k == 'folder' else
              '--' + k.replace('_', '-'))
             for k in sorted(set(options) | set(old))
             if options.get(k) != old.get(k)]
  raise errors.InputError(
      f"'{out_dir}' holds the outputs of a run with other options "
      f"(changed: {', '.join(changed)}; see {out_dir / MANIFEST}); pass "
      f'--overwrite to replace them, or choose another --out folder')


def _table(entries: Sequence[dict], out_dir: pathlib.Path) -> str:
  """The summary: input, output files, seconds, status (and error)."""
  names = [pathlib.Path(e['input']).name for e in entries]
  width = max([len('input')] + [len(n) for n in names])
  lines = [f'{"input":<{width}}  outputs  seconds  status']
  for name, e in zip(names, entries):
    status = e['status'] + (f': {e["error"]}' if e['error'] else '')
    lines.append(f'{name:<{width}}  {len(e["outputs"]):7d}  '
                 f'{e["seconds"]:7.1f}  {status}')
  counts = ', '.join(f'{sum(e["status"] == s for e in entries)} {s}'
                     for s in _STATUSES)
  lines.append(f'{len(entries)} input(s): {counts}; {out_dir / MANIFEST} '
               'lists them')
  return '\n'.join(lines)
