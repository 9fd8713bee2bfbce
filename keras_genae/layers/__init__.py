from keras_genae.layers.blocks import ConvDecoder
from keras_genae.layers.blocks import ConvEncoder
from keras_genae.layers.blocks import DenseBottleneck
from keras_genae.layers.blocks import ResidualBlock
from keras_genae.layers.pixelcnn import GatedPixelCNN
from keras_genae.layers.quantizer import VectorQuantizer
from keras_genae.layers.spectral_norm import SpectralConv2D
from keras_genae.layers.spectral_norm import SpectralDense
