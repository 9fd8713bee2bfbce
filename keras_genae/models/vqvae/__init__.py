from keras_genae.models.vqvae.vqvae import VQVAE
from keras_genae.models.vqvae import presets  # noqa: F401,E402 (registers the family)
