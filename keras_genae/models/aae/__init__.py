from keras_genae.models.aae.aae import AdversarialAutoencoder
from keras_genae.models.aae import presets  # noqa: F401,E402 (registers the family)
