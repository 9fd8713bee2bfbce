from keras_genae.models.classifier.feature_classifier import FeatureClassifier
from keras_genae.models.classifier import presets  # noqa: F401 (registers the family)
