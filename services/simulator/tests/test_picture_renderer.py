"""The built-in renderer: the same request gives the same bytes, another hour, place, weather or event gives
another picture, another seed a variation in the same colours, JPEG at the requested size that the files
service accepts, and every place kind and item drawn. A contact sheet of moments is saved for a person to
look at (var/artifacts/pictures/contact-sheet.jpg)."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from aic_files.images import ImageLimits, process_image
from aic_simulator.pictures.base import Moment, PictureRequest
from aic_simulator.pictures.renderer import BuiltinRenderer, item_shape, render_image, render_jpeg

ROOT = Path(__file__).resolve().parents[3]
HARBOR = Moment(place_id="harbor", place_name="Old Harbor", place_kind="harbor", hour=18, minute=30, people=2)

PLACE_KINDS = ["cafe", "park", "harbor", "market", "library", "shop", "bookstore", "studio", "gym", "school"]
PLACE_KINDS += ["clinic", "bar", "plaza", "home", "observatory"]
ITEMS = [
    ("Yirgacheffe beans", "food", "coffee"),
    ("Red bean mooncake", "food", "mooncake"),
    ("Memories of Peking (novel)", "book", "book"),
    ("Sketchbook", "tool", "book"),
    ("Old film camera", "tool", "camera"),
    ("Acoustic guitar", "instrument", "guitar"),
    ("Swallow kite", "toy", "kite"),
    ("Chinese chess set", "game", "chess"),
    ("Clear umbrella", "tool", "umbrella"),
    ("Yoga mat", "tool", "mat"),
    ("Lychees", "food", "fruit"),
    ("Brass compass", "tool", "parcel"),
]


def request_for(moment: Moment, seed: int = 11, width: int = 512, height: int = 384) -> PictureRequest:
    return PictureRequest(prompt="a postcard", moment=moment, seed=seed, width=width, height=height)


def decoded(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.convert("RGB")


def difference(a: Image.Image, b: Image.Image) -> float:
    """The mean absolute difference per channel, 0..255."""
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def changed_share(a: Image.Image, b: Image.Image, threshold: int = 24) -> float:
    """How much of the picture changed visibly (not a stray pixel)."""
    diff = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v > threshold else 0)
    return ImageStat.Stat(diff).mean[0] / 255


def test_the_same_request_gives_the_same_bytes() -> None:
    request = request_for(replace(HARBOR, weather="rain", event_kind="show"))
    assert render_jpeg(request) == render_jpeg(request)


@pytest.mark.parametrize(
    "change",
    [
        {"hour": 8},
        {"hour": 23},
        {"hour": 12, "minute": 0},
        {"place_kind": "cafe"},
        {"place_kind": "market"},
        {"weather": "rain"},
        {"weather": "snow"},
        {"weather": "fog"},
        {"event_kind": "show"},
        {"event_kind": "market"},
        {"event_kind": "gathering"},
        {"event_kind": "hazard"},
    ],
    ids=lambda change: ",".join(f"{k}={v}" for k, v in change.items()),
)
def test_another_moment_gives_another_picture(change: dict[str, object]) -> None:
    base = render_image(request_for(HARBOR))
    other = render_image(request_for(replace(HARBOR, **change)))
    assert difference(base, other) > 2.5
    assert changed_share(base, other) > 0.04


def test_a_close_up_of_an_item_differs_from_the_place() -> None:
    place = render_image(request_for(HARBOR))
    item = render_image(
        request_for(replace(HARBOR, subject="item", item_name="Old film camera", item_kind="tool"))
    )
    assert changed_share(place, item) > 0.05


def test_a_photo_of_the_sky_from_a_room_is_taken_outside() -> None:
    """The sky over a café at sunset is the street in front of it with a big sky, not the café's
    counter with a window: most of the picture is sky."""
    cafe = replace(HARBOR, place_kind="cafe", hour=18)
    room, sky = render_image(request_for(cafe)), render_image(request_for(replace(cafe, subject="sky")))
    assert changed_share(room, sky) > 0.3
    street_at_sunset = render_image(
        request_for(replace(cafe, place_kind="nowhere in particular", subject="sky"))
    )
    assert difference(sky, street_at_sunset) < difference(sky, room)


def test_another_seed_varies_the_picture_in_the_same_colours() -> None:
    moment = replace(HARBOR, place_kind="park", hour=10, people=4)
    first, second = render_image(request_for(moment, seed=1)), render_image(request_for(moment, seed=2))
    assert changed_share(first, second) > 0.01
    mean_first, mean_second = ImageStat.Stat(first).mean, ImageStat.Stat(second).mean
    assert all(abs(a - b) < 12 for a, b in zip(mean_first, mean_second, strict=True))
    # a night of the same place is far from either: the palette follows the moment, not the seed
    night = ImageStat.Stat(render_image(request_for(replace(moment, hour=23), seed=1))).mean
    assert sum(mean_first) - sum(night) > 120


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [(1024, 768, (1024, 768)), (640, 640, (640, 640)), (3000, 500, (2048, 500)), (768, 1024, (768, 1024))],
)
def test_jpeg_at_the_requested_size(width: int, height: int, expected: tuple[int, int]) -> None:
    data = render_jpeg(request_for(HARBOR, width=width, height=height))
    assert data[:3] == b"\xff\xd8\xff"
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        assert image.size == expected


@pytest.mark.parametrize("place_kind", PLACE_KINDS)
def test_every_place_kind_renders_its_own_scene(place_kind: str) -> None:
    moment = replace(HARBOR, place_kind=place_kind, hour=15, people=3)
    image = render_image(request_for(moment))
    assert image.size == (512, 384)
    # a picture, not a flat fill: many colours and visible contrast
    assert len(image.resize((128, 96)).getcolors(128 * 96) or []) > 500
    assert max(ImageStat.Stat(image).stddev) > 20
    if place_kind != "harbor":
        assert changed_share(image, render_image(request_for(replace(moment, place_kind="harbor")))) > 0.1


def test_an_unknown_place_kind_is_a_street() -> None:
    unknown = render_image(request_for(replace(HARBOR, place_kind="observatory")))
    empty = render_image(request_for(replace(HARBOR, place_kind="")))
    assert difference(unknown, empty) == 0


@pytest.mark.parametrize(("name", "kind", "shape"), ITEMS)
def test_items_are_drawn_by_name_and_kind(name: str, kind: str, shape: str) -> None:
    moment = replace(HARBOR, place_kind="cafe", subject="item", item_name=name, item_kind=kind)
    assert item_shape(moment) == shape
    close_up = render_image(request_for(moment))
    assert changed_share(close_up, render_image(request_for(replace(moment, subject="place")))) > 0.05


async def test_the_backend_renders_in_a_thread_as_jpeg() -> None:
    renderer = BuiltinRenderer()
    request = request_for(HARBOR, seed=99, width=800, height=600)
    picture = await renderer.generate(request)
    await renderer.aclose()
    assert (picture.backend, picture.content_type, picture.seed) == ("builtin", "image/jpeg", 99)
    assert picture.data == render_jpeg(request)
    assert picture.detail == {"scene": "harbor", "light": "golden"}


def test_the_files_service_accepts_the_picture(tmp_path: Path) -> None:
    source = tmp_path / "picture.jpg"
    source.write_bytes(render_jpeg(request_for(HARBOR, width=1024, height=768)))
    limits = ImageLimits(max_pixels=40_000_000, max_frames=300, max_animation_pixels=100_000_000)
    processed = process_image(source, tmp_path, limits)
    assert (processed.width, processed.height, processed.frames) == (1024, 768, 1)
    assert processed.image.content_type == "image/jpeg"
    assert processed.thumbnail.path.exists()


SHEET = [
    Moment(
        "cafe",
        "Cafe",
        "cafe",
        8,
        15,
        weather="rain",
        item_name="Yirgacheffe beans",
        item_kind="food",
        subject="food",
        people=1,
    ),
    Moment("park", "Lakeside Park", "park", 13, 0, people=3),
    Moment("harbor", "Old Harbor", "harbor", 18, 20, event_kind="show", people=4),
    Moment("market", "Morning Market", "market", 7, 0, event_kind="market", people=5),
    Moment(
        "library",
        "Library",
        "library",
        15,
        0,
        item_name="Memories of Peking (novel)",
        item_kind="book",
        subject="item",
    ),
    Moment("bookstore", "Bookstore", "shop", 19, 30, event_kind="gathering"),
    Moment("studio", "Studio", "studio", 10, 0, weather="snow", people=1),
    Moment("gym", "Gym", "gym", 6, 30, people=2),
    Moment("bar", "Moon Bar", "bar", 22, 0, event_kind="show", people=3),
    Moment("plaza", "Central Plaza", "plaza", 14, 0, weather="storm", event_kind="hazard", people=2),
    Moment(
        "home", "Apartments", "home", 23, 0, item_name="Red bean mooncake", item_kind="food", subject="food"
    ),
    Moment("somewhere", "Somewhere", "observatory", 20, 0, weather="fog", people=2),
    Moment("school", "School", "school", 9, 0, people=4),
    Moment("clinic", "Clinic", "clinic", 2, 0, weather="snow"),
    Moment("park", "Lakeside Park", "park", 16, 0, item_name="Swallow kite", item_kind="toy", subject="item"),
    Moment(
        "plaza",
        "Central Plaza",
        "plaza",
        11,
        0,
        item_name="Chinese chess set",
        item_kind="game",
        subject="item",
        people=2,
    ),
]


def test_contact_sheet() -> None:
    tile = (512, 384)
    columns = 4
    rows = -(-len(SHEET) // columns)
    sheet = Image.new("RGB", (tile[0] * columns, tile[1] * rows))
    for i, moment in enumerate(SHEET):
        picture = decoded(render_jpeg(request_for(moment, seed=100 + i, width=1024, height=768)))
        sheet.paste(
            picture.resize(tile, Image.Resampling.LANCZOS),
            ((i % columns) * tile[0], (i // columns) * tile[1]),
        )
    out = ROOT / "var" / "artifacts" / "pictures" / "contact-sheet.jpg"
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, "JPEG", quality=88)
    assert decoded(out.read_bytes()).size == sheet.size
