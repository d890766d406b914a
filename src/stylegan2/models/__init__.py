"""Networks built from `stylegan2.nn`: the StyleGAN2 generator and discriminator, and the Swapping Autoencoder."""

from .cooccurrence import CooccurrenceDiscriminator
from .discriminator import Discriminator, DiscriminatorBlock, DiscriminatorEpilogue
from .generator import Generator
from .mapping import MappingNetwork
from .swap_encoder import SwapEncoder
from .swap_generator import SwapGenerator
from .synthesis import SynthesisBlock, SynthesisLayer, SynthesisNetwork, ToRGBLayer

__all__ = [
    "CooccurrenceDiscriminator",
    "Discriminator",
    "DiscriminatorBlock",
    "DiscriminatorEpilogue",
    "Generator",
    "MappingNetwork",
    "SwapEncoder",
    "SwapGenerator",
    "SynthesisBlock",
    "SynthesisLayer",
    "SynthesisNetwork",
    "ToRGBLayer",
]
