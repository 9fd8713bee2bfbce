"""Model families. Each module registers its classes on import."""

from keras_genae.models.base import ARCHITECTURES
from keras_genae.models.base import LOADABLE_MODELS
from keras_genae.models.base import GenerativeAutoencoder
from keras_genae.models.base import GenerativeModel
from keras_genae.models.capabilities import CAPABILITIES
from keras_genae.models.base import TrainPhase
from keras_genae.models.base import get_architecture
from keras_genae.models.base import register_architecture
from keras_genae.models.base import register_loadable_model
from keras_genae.models.autoencoder import Autoencoder
from keras_genae.models.autoencoder import DenoisingAutoencoder
from keras_genae.models.vae import VAE
from keras_genae.models.vqvae import VQVAE
from keras_genae.models.aae import AdversarialAutoencoder
from keras_genae.models.gan import DCGAN
from keras_genae.models.classifier import FeatureClassifier
