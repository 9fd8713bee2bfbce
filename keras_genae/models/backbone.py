"""Construction of the shared convolutional encoder/decoder pair."""

from keras_genae.layers.blocks import ConvDecoder
from keras_genae.layers.blocks import ConvEncoder
from keras_genae.utils.validation import check_spatial_divisible


def conv_backbone(
    image_shape,
    encoder_filters,
    decoder_filters=None,
    num_res_blocks=0,
    use_batchnorm=False,
    dtype=None,
):
    """Build a `ConvEncoder` and a mirrored `ConvDecoder` for `image_shape`.

    Returns:
        `(encoder, decoder, feature_shape)`, where `feature_shape` is the
        `(h, w, channels)` shape of the encoder's output feature map.
    """
    encoder = ConvEncoder(
        filters=encoder_filters,
        num_res_blocks=num_res_blocks,
        use_batchnorm=use_batchnorm,
        dtype=dtype,
        name="encoder",
    )
    if decoder_filters is None:
        decoder_filters = tuple(reversed(encoder.filters))
    decoder = ConvDecoder(
        channels=image_shape[-1],
        filters=decoder_filters,
        num_res_blocks=num_res_blocks,
        use_batchnorm=use_batchnorm,
        dtype=dtype,
        name="decoder",
    )
    if decoder.levels != encoder.levels:
        raise ValueError(
            "`decoder_filters` must have as many levels as `encoder_filters`. "
            f"Received: encoder_filters={list(encoder.filters)}, "
            f"decoder_filters={list(decoder.filters)}"
        )
    check_spatial_divisible(image_shape, encoder.levels)
    factor = 2**encoder.levels
    feature_shape = (
        image_shape[0] // factor,
        image_shape[1] // factor,
        encoder.filters[-1],
    )
    return encoder, decoder, feature_shape


def attach_conv_backbone(
    model, encoder_filters, decoder_filters=None, num_res_blocks=0, use_batchnorm=False
):
    """Give `model` an `encoder` and `decoder` (see `conv_backbone`) and store
    the backbone's constructor arguments on it for `get_config`.

    Returns:
        The `(h, w, channels)` shape of the encoder's output.
    """
    model.num_res_blocks = num_res_blocks
    model.use_batchnorm = use_batchnorm
    model.encoder, model.decoder, feature_shape = conv_backbone(
        model.image_shape,
        encoder_filters,
        decoder_filters,
        num_res_blocks=num_res_blocks,
        use_batchnorm=use_batchnorm,
        dtype=model.dtype_policy,
    )
    model.encoder_filters = list(model.encoder.filters)
    model.decoder_filters = list(model.decoder.filters)
    return feature_shape


def backbone_config(model):
    """The backbone's constructor arguments, for `get_config`."""
    return {
        "encoder_filters": model.encoder_filters,
        "decoder_filters": model.decoder_filters,
        "num_res_blocks": model.num_res_blocks,
        "use_batchnorm": model.use_batchnorm,
    }
