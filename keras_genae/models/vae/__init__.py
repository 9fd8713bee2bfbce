from keras_genae.models.vae.vae import VAE
