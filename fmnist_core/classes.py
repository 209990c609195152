"""The ten Fashion-MNIST classes, in label order. The only place they are spelled out."""

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
NUM_CLASSES = len(CLASS_NAMES)
# At most 8 characters, for narrow columns such as a confusion matrix in a terminal.
SHORT_NAMES: tuple[str, ...] = (
    "T-shirt",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Boot",
)


def class_name(label: int) -> str:
    """Name of a label, with a clear error for anything outside 0..9."""
    if not 0 <= int(label) < NUM_CLASSES:
        raise ValueError(f"label {label} is not a Fashion-MNIST class (0..{NUM_CLASSES - 1})")
    return CLASS_NAMES[int(label)]
