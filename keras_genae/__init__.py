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
from keras_genae.models import AdversarialAutoencoder
from keras_genae.models import DCGAN
from keras_genae import registry
from keras_genae import hub
from keras_genae.hub import load
from keras_genae.hub import push_to_hub
from keras_genae.hub import save_pretrained
from keras_genae.registry import list_models
from keras_genae.registry import model_info
from keras_genae import classifiers
from keras_genae import data
from keras_genae.evaluation import evaluate
from keras_genae.finetuner import finetune
