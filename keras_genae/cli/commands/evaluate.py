"""`genae evaluate NAME [--data-dir D] [--limit N] [--images ...] [--probe P]`: the
metrics of a checkpoint. A zoo checkpoint on its own dataset is evaluated
with the zoo's protocol (`keras_genae.evaluation.evaluate_recipe`); any
other model with the probes of its family, on the test split of its
dataset (`--dataset`, else the one it was trained on) or on `--images`."""

from keras_genae import evaluation
from keras_genae.cli import common
from keras_genae.hub.api import load
from keras_genae.cli import quiet
from keras_genae.models import family as families


def _zoo_recipe(name, dataset):
    """The zoo recipe of a checkpoint name, if it is evaluated on the
    recipe's own dataset."""
    if name not in families.list_recipes():
        return None
    recipe = families.get_recipe(name)
    return recipe if recipe.dataset == dataset else None


def _test_split(dataset, data_dir, limit):
    datasets = quiet.quiet_import("keras_genae.data.datasets")  # tf.data
    split = "test" if limit is None else f"test[:{limit}]"
    return datasets.load_dataset(dataset, split, batch_size=256, shuffle=False, data_dir=data_dir)


def run(args):
    model = load(args.name, compile=False)
    dataset = args.dataset or common.dataset_of(args.name, model)
    recipe = None if args.images else _zoo_recipe(args.name, dataset)
    probes = None
    if args.probe:  # the family's probes, and those asked for
        probes = tuple(evaluation.default_probes(model)) + tuple(args.probe)
        unknown = sorted(set(args.probe) - set(evaluation.PROBES))
        common.require(not unknown, f"Unknown probe(s) {unknown}. Known probes: {sorted(evaluation.PROBES)}.")
    if recipe is not None:
        metrics = evaluation.evaluate_recipe(model, recipe, args.data_dir, args.limit,
                                             num_samples=args.num_samples, probes=probes)
    else:
        if args.images:
            data, _ = common.read_images(args.images, model, invert=args.invert)
            dataset = None
        else:
            common.require(dataset, "Cannot tell which dataset to evaluate on; pass --dataset or --images.")
            data = _test_split(dataset, args.data_dir, args.limit)
        sampling = dataset and "sample" in model.capabilities and args.num_samples > 0
        classifier = evaluation.shipped_classifier(dataset) if sampling else None
        metrics = evaluation.evaluate(model, data, classifier=classifier, num_samples=args.num_samples,
                                      seed=args.seed, verbose=0 if args.json else 1, probes=probes)
    title = None if args.json else f"\n{args.name} on {dataset or 'the given images'}:"
    common.print_metrics(metrics, title=title, as_json=args.json)
    return 0
