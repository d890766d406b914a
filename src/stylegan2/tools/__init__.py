"""Using a trained generator: images from seeds, style mixing, interpolation videos, projection, SeFa directions.

Each command of `stylegan2` (generate, mix, video, project, directions, export, convert) is one function here.
"""

from .common import ToolError, load_generator, parse_seeds, seed_latent, seed_ws
from .convert import Converted, convert_network
from .directions import direction_strip, find_directions
from .export import ExportResult, export_generator
from .files import load_target_image
from .generate import generate_images, load_projected_w, seed_images, synthesize
from .mix import style_mix, style_mix_images
from .project import ProjectionConfig, ProjectionResult, project, project_image
from .sefa import Directions, factorize, load_directions, save_directions
from .video import interpolation_ws, render_video

__all__ = [
    "Converted",
    "Directions",
    "ExportResult",
    "ProjectionConfig",
    "ProjectionResult",
    "ToolError",
    "convert_network",
    "direction_strip",
    "export_generator",
    "factorize",
    "find_directions",
    "generate_images",
    "interpolation_ws",
    "load_directions",
    "load_generator",
    "load_projected_w",
    "load_target_image",
    "parse_seeds",
    "project",
    "project_image",
    "render_video",
    "save_directions",
    "seed_images",
    "seed_latent",
    "seed_ws",
    "style_mix",
    "style_mix_images",
    "synthesize",
]
