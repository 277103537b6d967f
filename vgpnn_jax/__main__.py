"""`python -m vgpnn_jax`: see `vgpnn_jax.cli`."""

import sys

from vgpnn_jax import cli

if __name__ == '__main__':
  sys.exit(cli.main())
