"""Networks built from `stylegan2.nn`: the StyleGAN2 generator and discriminator."""

from .discriminator import Discriminator, DiscriminatorBlock, DiscriminatorEpilogue
from .generator import Generator
from .mapping import MappingNetwork
from .synthesis import SynthesisBlock, SynthesisLayer, SynthesisNetwork, ToRGBLayer

__all__ = [
    "Discriminator",
    "DiscriminatorBlock",
    "DiscriminatorEpilogue",
    "Generator",
    "MappingNetwork",
    "SynthesisBlock",
    "SynthesisLayer",
    "SynthesisNetwork",
    "ToRGBLayer",
]
