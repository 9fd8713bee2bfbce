from keras_genae.models.gan.dcgan import DCGAN
