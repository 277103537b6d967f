"""vgpnn_jax: new videos and images from a single example, by generative patch
nearest neighbours (VGPNN / GPNN), in pure JAX."""

from vgpnn_jax.errors import InputError
from vgpnn_jax.generation import Config
from vgpnn_jax.generation import generate
from vgpnn_jax.generation import generate_batch
from vgpnn_jax.generation import Guide
from vgpnn_jax.generation import Level
from vgpnn_jax.generation import make_config
from vgpnn_jax.generation import plan_levels
from vgpnn_jax.nn import exact_nearest
from vgpnn_jax.patches import fold
from vgpnn_jax.patches import fold_field
from vgpnn_jax.patches import unfold
from vgpnn_jax.pnn import level_step
from vgpnn_jax.pyramid import build_pyramid
from vgpnn_jax.pyramid import level_sizes
from vgpnn_jax.pyramid import output_sizes
from vgpnn_jax.resampling import resize

__version__ = '0.1.0'

__all__ = (
    'Config',
    'InputError',
    'build_pyramid',
    'exact_nearest',
    'fold',
    'fold_field',
    'generate',
    'generate_batch',
    'Guide',
    'Level',
    'level_sizes',
    'level_step',
    'make_config',
    'output_sizes',
    'plan_levels',
    'resize',
    'unfold',
)
