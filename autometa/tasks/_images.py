"""N-way K-shot image episodes: arrays of images, or Omniglot-format folders you supply.

No image data set ships with autometa's dependencies (Omniglot and miniImageNet would need a
download), so this module reads images from a folder laid out like Omniglot::

    root/
      Alphabet_of_the_Magi/
        character01/  0709_01.png  0709_02.png ...
        character02/  ...
      Latin/
        ...

Every ``alphabet/character`` folder is one class. Images are read with Pillow, converted to
greyscale, resized to ``image_size`` and flattened to ``d_max = H * W`` values in ``[0, 1]``
(so they travel as ordinary :class:`~autometa.tasks.Task` s and the
:class:`~autometa.functional.Conv4` base net reshapes them with ``image_shape = (1, H, W)``).

:class:`ImageFolderPool` is an :class:`~autometa.tasks.EpisodicPool` over such a folder: the
characters are shuffled with ``split_seed`` and cut into meta-train, meta-validation and
meta-test characters (*class-disjoint* splits), and every episode draws ``n_way`` characters
of one split with ``k_shot`` support and ``n_query`` query images each. (For image arrays
you already hold, pass ``(X, y)`` and ``image_shape`` to ``EpisodicPool`` directly; the
built-in small image pool is ``EpisodicPool("digits")``, 8x8.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autometa.tasks._episodic import EpisodicPool

__all__ = ["ImageFolder", "ImageFolderPool", "load_image_folder"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")


@dataclass(frozen=True)
class ImageFolder:
    """Images read from an Omniglot-format folder.

    Attributes
    ----------
    x : ndarray of shape (n_images, H * W), float32 in [0, 1]
    y : ndarray of shape (n_images,), int64; index into ``classes``
    classes : list of str
        ``"alphabet/character"`` of each class, sorted.
    image_shape : tuple of int
        ``(1, H, W)``.
    """

    x: np.ndarray
    y: np.ndarray
    classes: list[str]
    image_shape: tuple[int, int, int]


def _image_size(image_size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        size = (int(image_size), int(image_size))
    elif isinstance(image_size, (tuple, list)) and len(image_size) == 2:
        size = (int(image_size[0]), int(image_size[1]))
    else:
        raise ValueError(f"image_size must be an int or an (H, W) pair; got {image_size!r}.")
    if min(size) < 1:
        raise ValueError(f"image_size must be positive; got {image_size!r}.")
    return size


def load_image_folder(
    root: str | os.PathLike[str], image_size: int | tuple[int, int] = 28, *, invert: bool = False
) -> ImageFolder:
    """Read an Omniglot-format folder ``root/alphabet/character/image.png``.

    Parameters
    ----------
    root : path
        The folder holding one sub-folder per alphabet.
    image_size : int or (int, int), default=28
        Output height and width (``28`` is the usual Omniglot size).
    invert : bool, default=False
        Return ``1 - pixel`` (Omniglot draws black strokes on white; inverting makes the
        strokes the non-zero values).

    Returns
    -------
    ImageFolder

    Raises
    ------
    FileNotFoundError
        If ``root`` is not a directory.
    ValueError
        If it holds no ``alphabet/character/<image>`` files, or an image cannot be read.
    ImportError
        If Pillow is not installed.
    """
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - Pillow comes with matplotlib
        raise ImportError("Reading image folders needs Pillow: pip install pillow.") from exc
    h, w = _image_size(image_size)
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Image folder {str(root)!r} does not exist or is not a directory.")
    files: list[tuple[str, Path]] = []
    for alphabet in sorted(p for p in root.iterdir() if p.is_dir()):
        for character in sorted(p for p in alphabet.iterdir() if p.is_dir()):
            for f in sorted(character.iterdir()):
                if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS:
                    files.append((f"{alphabet.name}/{character.name}", f))
    if not files:
        raise ValueError(
            f"No images found under {str(root)!r}; expected the Omniglot layout "
            f"root/alphabet/character/image.png with extensions {list(IMAGE_EXTENSIONS)}."
        )
    classes = sorted({c for c, _ in files})
    index = {c: i for i, c in enumerate(classes)}
    x = np.empty((len(files), h * w), dtype=np.float32)
    y = np.empty(len(files), dtype=np.int64)
    resample = getattr(Image, "Resampling", Image).LANCZOS
    for i, (cls, f) in enumerate(files):
        try:
            with Image.open(f) as im:
                arr = np.asarray(im.convert("L").resize((w, h), resample), dtype=np.float32) / 255.0
        except OSError as exc:
            raise ValueError(f"Cannot read image {str(f)!r}: {exc}") from exc
        x[i] = (1.0 - arr if invert else arr).reshape(-1)
        y[i] = index[cls]
    return ImageFolder(x=x, y=y, classes=classes, image_shape=(1, h, w))


class ImageFolderPool(EpisodicPool):
    """N-way K-shot episodes from an Omniglot-format folder (``root/alphabet/character/image.png``).

    Characters are the classes. They are partitioned into meta-train, meta-val and meta-test
    characters from ``split_seed`` exactly as :class:`~autometa.tasks.EpisodicPool` does for
    a data set (this class *is* an ``EpisodicPool`` over the folder's images), so a test
    episode never shows a character seen in meta-training. The base net to use is
    ``{"kind": "conv4", "image_shape": list(pool.image_shape), "c_max": pool.c_max}``.

    Parameters
    ----------
    root : path
        The image folder (see :func:`load_image_folder`).
    image_size : int or (int, int), default=28
        Images are resized to this size (Omniglot is usually used at 28x28).
    invert : bool, default=False
        Use ``1 - pixel`` (strokes become the non-zero values).
    n_way, k_shot, n_query, split, split_seed, split_fractions
        As in :class:`~autometa.tasks.EpisodicPool`.
    name : str, optional
        Defaults to ``"images/<folder name>/<split>"``.

    Attributes
    ----------
    folder_classes : list of str
        Every ``"alphabet/character"`` class of the folder.
    classes_by_split : dict of str -> list of str
        The characters of each split.
    d_max, c_max, image_shape
        ``H * W``, ``n_way`` and ``(1, H, W)``.

    Examples
    --------
    >>> pool = ImageFolderPool("omniglot/images_background", n_way=5, k_shot=1)  # doctest: +SKIP
    >>> task = pool.sample(np.random.default_rng(0))  # doctest: +SKIP
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        image_size: int | tuple[int, int] = 28,
        *,
        invert: bool = False,
        n_way: int = 5,
        k_shot: int = 1,
        n_query: int = 15,
        split: str = "train",
        split_seed: int = 0,
        split_fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
        name: str | None = None,
    ) -> None:
        folder = load_image_folder(root, image_size, invert=invert)
        self.root = os.fspath(root)
        self.folder_classes = folder.classes
        labels = np.asarray(folder.classes, dtype=object)[folder.y]
        super().__init__(
            (folder.x, labels),
            n_way=n_way,
            k_shot=k_shot,
            n_query=n_query,
            split=split,
            split_seed=split_seed,
            split_fractions=split_fractions,
            image_shape=folder.image_shape,
            name=name if name is not None else f"images/{Path(root).name}/{split}",
        )

    def __repr__(self) -> str:
        return (
            f"ImageFolderPool(root={self.root!r}, split={self.split!r}, n_way={self.n_way}, "
            f"k_shot={self.k_shot}, n_query={self.n_query}, classes={len(self.classes_by_split[self.split])})"
        )
