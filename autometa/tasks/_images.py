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

:class:`ImageEpisodePool` turns any labelled image array into episodes with *class-disjoint*
splits: the classes are shuffled with ``split_seed`` and cut into meta-train, meta-validation
and meta-test classes, so a test episode never shows a class seen in meta-training.
:class:`ImageFolderPool` is the same pool read from a folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from autometa.tasks._task import Task

__all__ = ["ImageEpisodePool", "ImageFolder", "ImageFolderPool", "load_image_folder"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")
_SPLITS = ("train", "val", "test")


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


class ImageEpisodePool:
    """N-way K-shot episodes from labelled images, on class-disjoint splits.

    Implements the :class:`~autometa.tasks.TaskPool` protocol: ``sample(rng)`` draws
    ``n_way`` classes of the chosen split, relabels them ``0..n_way-1`` in random order and
    returns ``k_shot`` support and ``n_query`` query images per class (rows shuffled).

    Parameters
    ----------
    x : array-like of shape (n_images, C * H * W)
        Flattened images, values in ``[0, 1]``.
    y : array-like of shape (n_images,)
        Class labels (any hashable values).
    image_shape : tuple of int
        ``(C, H, W)`` with ``C * H * W == x.shape[1]``.
    n_way, k_shot, n_query : int, default=5, 1, 15
    split : {"train", "val", "test"}, default="train"
        Which class split episodes come from.
    split_seed : int, default=0
        Seed of the class shuffle that defines the splits (use the same value for the
        train, val and test pools of one experiment).
    fractions : tuple of float, default=(0.6, 0.2, 0.2)
        Shares of the classes in the train, val and test splits (a zero share is allowed).
    name : str, default="images"

    Attributes
    ----------
    d_max, c_max : int
        ``C * H * W`` and ``n_way``.
    classes : list
        The original labels of the classes in this split.

    Raises
    ------
    ValueError
        For inconsistent shapes, a split with fewer than ``n_way`` classes, or a class with
        fewer than ``k_shot + n_query`` images (the message says which).
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        image_shape: tuple[int, int, int],
        n_way: int = 5,
        k_shot: int = 1,
        n_query: int = 15,
        split: str = "train",
        split_seed: int = 0,
        fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
        name: str = "images",
    ) -> None:
        x = np.asarray(x, dtype=np.float32)
        y = np.asarray(y)
        if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise ValueError(f"x must be (n, C*H*W) and y (n,); got {x.shape} and {y.shape}.")
        if not np.isfinite(x).all():
            raise ValueError("x contains NaN or infinite values.")
        shape = tuple(int(v) for v in image_shape)
        if len(shape) != 3 or int(np.prod(shape)) != x.shape[1]:
            raise ValueError(f"image_shape {image_shape!r} does not match {x.shape[1]} values per image.")
        for label, v in (("n_way", n_way), ("k_shot", k_shot), ("n_query", n_query)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{label} must be an int >= 1; got {v!r}.")
        if n_way < 2:
            raise ValueError(f"n_way must be >= 2; got {n_way}.")
        if split not in _SPLITS:
            raise ValueError(f"split must be one of {list(_SPLITS)}; got {split!r}.")
        fr = np.asarray(fractions, dtype=float)
        if fr.shape != (3,) or (fr < 0).any() or fr.sum() <= 0:
            raise ValueError(f"fractions must be three non-negative shares (train, val, test); got {fractions!r}.")
        self.image_shape = shape
        self.n_way, self.k_shot, self.n_query = int(n_way), int(k_shot), int(n_query)
        self.split, self.split_seed, self.fractions = split, int(split_seed), tuple(float(f) for f in fr)
        self.name = name
        self.d_max = int(x.shape[1])
        self.c_max = self.n_way

        all_classes = np.unique(y)
        order = np.random.default_rng(self.split_seed).permutation(len(all_classes))
        bounds = np.floor(np.cumsum(fr / fr.sum()) * len(all_classes) + 1e-9).astype(int)
        bounds[-1] = len(all_classes)
        start = 0 if split == "train" else bounds[_SPLITS.index(split) - 1]
        chosen = all_classes[np.sort(order[start : bounds[_SPLITS.index(split)]])]
        if len(chosen) < self.n_way:
            raise ValueError(
                f"The {split!r} split of {name!r} has {len(chosen)} classes (of {len(all_classes)}) but "
                f"n_way={self.n_way}; lower n_way or change fractions={self.fractions}."
            )
        need = self.k_shot + self.n_query
        self.classes = chosen.tolist()
        self._x = torch.from_numpy(np.ascontiguousarray(x))
        self._rows: list[np.ndarray] = []
        for c in chosen:
            rows = np.flatnonzero(y == c)
            if len(rows) < need:
                raise ValueError(
                    f"Class {c!r} of {name!r} has {len(rows)} images but an episode needs "
                    f"k_shot + n_query = {need}; lower n_query."
                )
            self._rows.append(rows)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, split={self.split!r}, classes={len(self.classes)}, "
            f"n_way={self.n_way}, k_shot={self.k_shot}, n_query={self.n_query})"
        )

    def sample(self, rng: np.random.Generator) -> Task:
        """Draw one episode using only ``rng`` for randomness."""
        picked = rng.choice(len(self._rows), size=self.n_way, replace=False)
        support, query = [], []
        for label, c in enumerate(picked):
            rows = rng.choice(self._rows[c], size=self.k_shot + self.n_query, replace=False)
            support += [(r, label) for r in rows[: self.k_shot]]
            query += [(r, label) for r in rows[self.k_shot :]]
        support = [support[i] for i in rng.permutation(len(support))]
        query = [query[i] for i in rng.permutation(len(query))]

        def stack(pairs: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
            idx = torch.tensor([r for r, _ in pairs], dtype=torch.long)
            return self._x[idx].clone(), torch.tensor([lab for _, lab in pairs], dtype=torch.long)

        xs, ys = stack(support)
        xq, yq = stack(query)
        return Task(
            x_support=xs,
            y_support=ys,
            x_query=xq,
            y_query=yq,
            feature_mask=torch.ones(self.d_max, dtype=torch.bool),
            n_classes=self.n_way,
            name=f"{self.name}/{self.split}",
        )


class ImageFolderPool(ImageEpisodePool):
    """Episodes from an Omniglot-format folder (``root/alphabet/character/image.png``).

    Characters are the classes; they are split into train/val/test classes by
    ``split_seed`` (see :class:`ImageEpisodePool`). The base net to use is
    ``{"kind": "conv4", "image_shape": list(pool.image_shape), "c_max": pool.c_max}``.

    Parameters
    ----------
    root : path
        The image folder (see :func:`load_image_folder`).
    image_size : int or (int, int), default=28
    invert : bool, default=False
    n_way, k_shot, n_query, split, split_seed, fractions
        As in :class:`ImageEpisodePool`.
    name : str, optional
        Defaults to the folder name.

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
        fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
        name: str | None = None,
    ) -> None:
        folder = load_image_folder(root, image_size, invert=invert)
        self.folder_classes = folder.classes
        super().__init__(
            folder.x,
            np.asarray(folder.classes, dtype=object)[folder.y],
            folder.image_shape,
            n_way=n_way,
            k_shot=k_shot,
            n_query=n_query,
            split=split,
            split_seed=split_seed,
            fractions=fractions,
            name=name if name is not None else Path(root).name,
        )
