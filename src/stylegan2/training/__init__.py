"""Training: losses, augmentation, the loop, distributed setup."""
