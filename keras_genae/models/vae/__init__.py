from keras_genae.models.vae.vae import VAE
from keras_genae.models.vae import presets  # noqa: F401,E402 (registers the family)
