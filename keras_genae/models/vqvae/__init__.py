from keras_genae.models.vqvae.vqvae import VQVAE
