from keras_genae.models.autoencoder.autoencoder import Autoencoder
from keras_genae.models.autoencoder.denoising import DenoisingAutoencoder
from keras_genae.models.autoencoder import presets  # noqa: F401,E402 (registers the family)
