"""Errors whose message is written for a person, shown as-is by the app and the CLI."""


class FmnistError(Exception):
    """Base class: anything raised as this is safe to show to a user without a traceback."""


class DatasetError(FmnistError):
    """The dataset is missing, unreadable or not the real Fashion-MNIST."""


class ImageInputError(FmnistError):
    """An uploaded or given file cannot be turned into an image."""


class UnsupportedImageError(ImageInputError):
    """The file is not in an image format we read (a PDF, an SVG, text...)."""


class ImageTooLargeError(ImageInputError):
    """The file or the image it claims to hold is over a size limit (bytes or pixels)."""


class RegistryError(FmnistError):
    """A model cannot be saved, found or loaded."""
