"""The Swapping Autoencoder (Park et al., NeurIPS 2020): structure and texture codes, and swapping them between images.

The networks live in `stylegan2.models` (SwapEncoder, SwapGenerator, CooccurrenceDiscriminator).
This package holds what is specific to training and using them; import its modules directly:
`patches` (random crops for the co-occurrence discriminator), `loss` (the objective), `config`
(options and presets), `training` (the training loop) and `tools` (swap, encode, decode).
"""
