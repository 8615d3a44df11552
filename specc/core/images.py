"""The image files specc reads, wherever it reads them: image folders (`imagefolder:`),
WebDataset shards (KEY.jpg beside KEY.cls) and `specc run FILE`. PIL decodes each of these."""

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm")
IMAGE_EXTS = tuple(s[1:] for s in IMAGE_SUFFIXES)  # as WebDataset keys name them: KEY.jpg


def is_image(name: str) -> bool:
    """Does a file name end in an image suffix (in any case)?"""
    return name.lower().endswith(IMAGE_SUFFIXES)
