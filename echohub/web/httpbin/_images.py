# -*- test-case-name: tests.web.httpbin.test_images -*-
"""
httpbin's images: C{/image/png}, C{/image/jpeg}, C{/image/webp},
C{/image/svg}, and C{/image}, which picks one by C{Accept} (C{406} when it
accepts none of them).

The pictures are echohub's own: a ripple of rings, the echo of a drop.  The
SVG is written here; the PNG, JPEG and WebP files in C{static/images/} were
drawn by L{draw} (C{python -m echohub.web.httpbin._images echohub/web/static/images}
in a virtualenv with echohub and Pillow; Pillow is not a dependency of
echohub) and are committed, a few KiB each, so that serving them needs
nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from twisted.web.iweb import IRequest

from echohub.web.httpbin._controls import statusResponse
from echohub.web.httpbin._resource import PlainTextResource

SIZE = 100
_RINGS = (
    (46, "#1d3557"),
    (36, "#457b9d"),
    (26, "#a8dadc"),
    (16, "#f1faee"),
    (7, "#e63946"),
)

SVG = (
    f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}"'
    f' viewBox="0 0 {SIZE} {SIZE}"><title>echohub</title>'
    + "".join(
        f'<circle cx="50" cy="50" r="{r}" fill="{colour}"/>' for r, colour in _RINGS
    )
    + "</svg>\n"
).encode()

# Format name: (file, media type).  The order is /image's preference.
_RASTERS = {
    "webp": ("echo.webp", b"image/webp"),
    "jpeg": ("echo.jpeg", b"image/jpeg"),
    "png": ("echo.png", b"image/png"),
}
# An SVG is a document a browser could run: ours has no script, and this
# policy would stop any.
_SVG_POLICY = b"default-src 'none'; style-src 'unsafe-inline'"


def loadImages() -> dict[str, tuple[bytes, bytes]]:
    """
    Every image, by format name: its bytes and media type.  Read once, when
    the tree is built.
    """
    folder = resources.files("echohub.web") / "static" / "images"
    images = {
        kind: ((folder / name).read_bytes(), mediaType)
        for kind, (name, mediaType) in _RASTERS.items()
    }
    images["svg"] = (SVG, b"image/svg+xml")
    return images


def choose(accept: bytes | None) -> str | None:
    """
    The format C{/image} serves for an C{Accept} header, as httpbin picks
    it: PNG without one, else the first of WebP, SVG, JPEG, PNG (or
    C{image/*}) that it mentions.
    """
    if accept is None:
        return "png"
    accept = accept.lower()
    for mediaType, kind in (
        (b"image/webp", "webp"),
        (b"image/svg+xml", "svg"),
        (b"image/jpeg", "jpeg"),
        (b"image/png", "png"),
        (b"image/*", "png"),
    ):
        if mediaType in accept:
            return kind
    return None


class ImageResource(PlainTextResource):
    """
    C{/image} and C{/image/<format>}.
    """

    isLeaf = True

    def __init__(self, images: dict[str, tuple[bytes, bytes]]) -> None:
        super().__init__()
        self.images = images

    def render_GET(self, request: IRequest) -> bytes:
        postpath = [p for p in request.postpath if p]
        if postpath:
            kind: str | None = postpath[0].decode("ascii", "replace")
            if len(postpath) != 1 or kind not in self.images:
                return statusResponse(request, 404)
        else:
            kind = choose(request.getHeader(b"Accept"))
            if kind is None:
                return statusResponse(request, 406)
        body, mediaType = self.images[kind]
        request.setHeader(b"Content-Type", mediaType)
        if kind == "svg":
            request.setHeader(b"Content-Security-Policy", _SVG_POLICY)
        return body


def draw(folder: Path) -> None:
    """
    Draw the raster images into C{folder} with Pillow.
    """
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (SIZE, SIZE), "white")
    pen = ImageDraw.Draw(picture)
    for radius, colour in _RINGS:
        pen.ellipse((50 - radius, 50 - radius, 50 + radius, 50 + radius), fill=colour)
    picture.save(folder / "echo.png", optimize=True)
    picture.save(folder / "echo.jpeg", quality=60)
    picture.save(folder / "echo.webp", quality=60)


def main(argv: Sequence[str]) -> int:
    """
    C{python -m echohub.web.httpbin._images FOLDER}: redraw the images.
    """
    if len(argv) != 1:
        print("usage: python -m echohub.web.httpbin._images FOLDER", file=sys.stderr)
        return 2
    draw(Path(argv[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
