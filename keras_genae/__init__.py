"""keras-genae: a Keras 3 model zoo of generative autoencoders."""

from keras_genae import layers
from keras_genae import models
from keras_genae.errors import ChecksumError
from keras_genae.errors import NonFiniteLossError
from keras_genae.models import VAE
from keras_genae.models import VQVAE
from keras_genae.models import Autoencoder
from keras_genae.models import DenoisingAutoencoder
from keras_genae.models import GenerativeAutoencoder
from keras_genae.version import __version__
