"""Workflows over the models: train a zoo recipe (`train`), fine-tune a
pretrained model on the user's images (`finetune`)."""
