from keras_genae.models.gan.dcgan import DCGAN
from keras_genae.models.gan import presets  # noqa: F401,E402 (registers the family)
