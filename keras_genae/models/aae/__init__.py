from keras_genae.models.aae.aae import AdversarialAutoencoder
