"""The built-in picture backend: a flat-colour illustrated postcard of a character's moment, drawn by Pillow.

No server and no model: the sky comes from the hour (night with stars and moon, dawn, day, golden hour,
dusk) and the weather (rain, storm, fog, snow), the scene from the place's kind, then the event's
decorations, the people there and, when the picture is of an item, the item large in the foreground.
Soft gradients, glows, a vignette and a little film grain make it read as a photo-like illustration.

Everything random comes from the request's seed, so the same request always gives the same bytes. The
scene is drawn at a reduced size (where the request is large) and scaled up; drawing runs in a thread.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from aic_simulator.pictures.base import Moment, Picture, PictureFailed, PictureRequest

__all__ = ["BuiltinRenderer", "render_image", "render_jpeg"]

RGB = tuple[int, int, int]
RGBA = tuple[int, int, int, int]

MAX_SIDE = 2048
MIN_SIDE = 64
DRAW_SIDE = 1280  # the longest side the scene is drawn at; larger pictures are scaled up from it
JPEG_QUALITY = 88


class BuiltinRenderer:
    """The embedded default backend (``image_backend = builtin``)."""

    name = "builtin"

    def __init__(self, jpeg_quality: int = JPEG_QUALITY) -> None:
        self._quality = jpeg_quality

    async def generate(self, request: PictureRequest) -> Picture:
        try:
            data = await asyncio.to_thread(render_jpeg, request, self._quality)
        except (OSError, ValueError, MemoryError) as exc:  # Pillow's failures, not the caller's
            raise PictureFailed("bad_image", f"The built-in renderer failed: {exc}") from exc
        moment = request.moment
        return Picture(
            data=data,
            content_type="image/jpeg",
            backend=self.name,
            seed=request.seed,
            detail={"scene": _scene_name(moment.place_kind), "light": _light_of(moment).name},
        )

    async def aclose(self) -> None:
        return None


def render_jpeg(request: PictureRequest, quality: int = JPEG_QUALITY) -> bytes:
    out = io.BytesIO()
    render_image(request).save(out, "JPEG", quality=quality)
    return out.getvalue()


def render_image(request: PictureRequest) -> Image.Image:
    """The picture as an RGB image at the requested size (each side capped at 2048)."""
    width = min(max(request.width, MIN_SIDE), MAX_SIDE)
    height = min(max(request.height, MIN_SIDE), MAX_SIDE)
    scale = min(2.0, DRAW_SIDE / max(width, height))
    size = (max(MIN_SIDE, round(width * scale)), max(MIN_SIDE, round(height * scale)))
    painter = Painter(size, request.moment, request.seed)
    painter.paint()
    image = painter.im
    if image.size != (width, height):  # averaging the drawn pixels down smooths every edge
        shrinking = image.width > width
        image = image.resize((width, height), Image.Resampling.BOX if shrinking else Image.Resampling.BICUBIC)
    return _finish(image, request.seed)


# ------------------------------------------------------------------------------------------ colour


def mix(a: Sequence[int], b: Sequence[int], t: float) -> RGB:
    t = min(1.0, max(0.0, t))
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def scaled(c: Sequence[int], f: float) -> RGB:
    return (min(255, round(c[0] * f)), min(255, round(c[1] * f)), min(255, round(c[2] * f)))


def alpha(c: Sequence[int], a: int) -> RGBA:
    return (c[0], c[1], c[2], a)


def hexrgb(value: str) -> RGB:
    return (int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16))


def _gradient_at(stops: Sequence[tuple[float, Sequence[int]]], t: float) -> RGB:
    if t <= stops[0][0]:
        return tuple(stops[0][1])  # type: ignore[return-value]
    for (p0, c0), (p1, c1) in itertools.pairwise(stops):
        if t <= p1:
            return mix(c0, c1, (t - p0) / (p1 - p0) if p1 > p0 else 1.0)
    return tuple(stops[-1][1])  # type: ignore[return-value]


def vertical_gradient(size: tuple[int, int], stops: Sequence[tuple[float, Sequence[int]]]) -> Image.Image:
    height = size[1]
    column = Image.new("RGB", (1, height))
    column.putdata([_gradient_at(stops, i / max(1, height - 1)) for i in range(height)])
    return column.resize(size, Image.Resampling.NEAREST)  # each row one colour: copying is enough


@cache
def _falloff() -> Image.Image:
    """A round soft spot, 255 in the middle fading to 0 at the edge (for glows and shadows)."""
    radial = Image.radial_gradient("L")  # the distance from the centre; 180 at the edge's middle
    return radial.point(lambda v: round(255 * max(0.0, 1 - v / 180) ** 1.8))


# ------------------------------------------------------------------------------------------- light


@dataclass(frozen=True)
class Light:
    name: str  # night, dawn, day, golden, dusk
    sky: tuple[RGB, RGB, RGB]  # top, middle, horizon
    ambient: tuple[float, float, float]  # what daylight does to a surface's colour
    darkness: float  # 0 at noon, 1 at midnight: lamps and lit windows show above ~0.4
    sun: tuple[float, float] | None  # (x, height above the horizon 0..1) when the sun is up
    moon: tuple[float, float] | None
    weather: str
    wetness: float  # how hard the weather is: 0 none, 1 normal, 1.6 a hazard


# (hour, name, sky top, middle, horizon, ambient)
_KEYFRAMES: list[tuple[float, str, str, str, str, tuple[float, float, float]]] = [
    (0.0, "night", "#070b1f", "#141c3f", "#2b3262", (0.30, 0.34, 0.52)),
    (4.6, "night", "#0a1030", "#1c2452", "#3a3a6e", (0.32, 0.35, 0.55)),
    (6.0, "dawn", "#3b3f82", "#b07aa8", "#ffb38a", (0.86, 0.74, 0.78)),
    (8.0, "day", "#4a8fd8", "#86bde8", "#d6eaf5", (1.0, 1.0, 1.0)),
    (15.5, "day", "#3f86d6", "#7fb6e6", "#d2e6f2", (1.0, 0.98, 0.95)),
    (18.1, "golden", "#5a6db5", "#f0a070", "#ffd58a", (1.0, 0.84, 0.66)),
    (19.5, "dusk", "#232a66", "#8a4f8e", "#f08a6a", (0.62, 0.52, 0.66)),
    (20.8, "night", "#0b1134", "#1d2350", "#3b3768", (0.34, 0.36, 0.55)),
    (24.0, "night", "#070b1f", "#141c3f", "#2b3262", (0.30, 0.34, 0.52)),
]

_WEATHER_SKY = {  # the grey the sky turns to, and how far
    "rain": ("#7d8794", 0.62),
    "storm": ("#454b5a", 0.82),
    "fog": ("#c9ccd0", 0.7),
    "snow": ("#d7dce4", 0.58),
}
_WEATHER_NAMES = {"clear", "rain", "storm", "fog", "snow"}
_STRONGER = {"clear": "rain", "rain": "storm", "storm": "storm", "fog": "fog", "snow": "snow"}


def _weather_of(moment: Moment) -> tuple[str, float]:
    weather = (moment.weather or "clear").lower()
    for name in ("storm", "snow", "fog", "rain"):  # "thunderstorm", "light rain", "snowfall"...
        if name in weather:
            weather = name
            break
    if weather not in _WEATHER_NAMES:
        weather = "clear"
    wetness = 0.0 if weather == "clear" else 1.0
    if moment.event_kind == "hazard":
        weather = _STRONGER[weather]
        wetness = 1.6
    return weather, wetness


def _light_of(moment: Moment) -> Light:
    t = (moment.hour % 24) + min(max(moment.minute, 0), 59) / 60
    for k0, k1 in itertools.pairwise(_KEYFRAMES):
        if k0[0] <= t <= k1[0]:
            f = (t - k0[0]) / (k1[0] - k0[0])
            break
    else:  # pragma: no cover - the keyframes cover the day
        k0 = k1 = _KEYFRAMES[0]
        f = 0.0
    name = k0[1] if f < 0.5 else k1[1]
    sky = tuple(mix(hexrgb(k0[i]), hexrgb(k1[i]), f) for i in (2, 3, 4))
    ambient = tuple(k0[5][i] + (k1[5][i] - k0[5][i]) * f for i in range(3))
    weather, wetness = _weather_of(moment)
    if weather in _WEATHER_SKY:
        grey, amount = _WEATHER_SKY[weather]
        night_grey = scaled(hexrgb(grey), 0.25 + 0.75 * (sum(ambient) / 3))
        sky = tuple(mix(c, night_grey, amount * (0.85 if i == 2 else 1.0)) for i, c in enumerate(sky))
        dim = {"rain": 0.8, "storm": 0.62, "fog": 0.92, "snow": 0.95}[weather]
        ambient = tuple(a * dim for a in ambient)
    darkness = max(0.0, min(1.0, 1.15 - sum(ambient) / 3 * 1.3))
    sun = moon = None
    if 5.6 <= t <= 19.4:
        progress = (t - 5.6) / 13.8
        sun = (0.1 + 0.8 * progress, math.sin(math.pi * progress))
    if t >= 19.6 or t <= 5.4:
        night_t = (t - 19.6) if t >= 19.6 else (t + 4.4)
        progress = night_t / 9.8
        moon = (0.85 - 0.7 * progress, 0.35 + 0.55 * math.sin(math.pi * progress))
    return Light(name, sky, ambient, darkness, sun, moon, weather, wetness)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------- scenes

_INDOOR = {"cafe", "library", "shop", "bookstore", "studio", "gym", "bar", "home"}
_ALIASES = {
    "bookshop": "bookstore",
    "coffee": "cafe",
    "coffeehouse": "cafe",
    "pub": "bar",
    "club": "bar",
    "garden": "park",
    "port": "harbor",
    "harbour": "harbor",
    "pier": "harbor",
    "beach": "harbor",
    "square": "plaza",
    "hospital": "clinic",
    "apartment": "home",
    "apartments": "home",
    "house": "home",
    "gallery": "studio",
    "store": "shop",
}


def _scene_name(place_kind: str) -> str:
    kind = (place_kind or "").strip().lower()
    kind = _ALIASES.get(kind, kind)
    return kind if kind in _SCENES else "street"


class Painter:
    """Draws one moment onto an RGB canvas; positions are fractions of the canvas, sizes of its short side."""

    def __init__(self, size: tuple[int, int], moment: Moment, seed: int) -> None:
        self.w, self.h = size
        self.u = min(size)
        self.moment = moment
        self.seed = seed
        self.light = _light_of(moment)
        self.scene = _scene_name(moment.place_kind)
        if moment.subject == "sky" and self.scene in _INDOOR:
            self.scene = "street"  # a photo of the sky is taken outside, in the street in front of it
        self.indoor = self.scene in _INDOOR
        self.horizon = 0.74 if moment.subject == "sky" and not self.indoor else 0.58
        self.im = Image.new("RGB", size)
        self.d = ImageDraw.Draw(self.im, "RGBA")
        # where people may stand: (x from, x to, depth from, depth to), depth 0 at the horizon (or the
        # foot of the wall indoors) to 1 at the bottom edge; a scene with water or counters says so
        self.stand: list[tuple[float, float, float, float]] = []
        self.later: list[Callable[[], None]] = []  # the scene's foreground, drawn over the people

    # --------------------------------------------------------------------- helpers

    def rng(self, part: str) -> random.Random:
        """A random stream of its own per part, so one part's draws never shift another's."""
        return random.Random(f"{self.seed}:{part}")  # noqa: S311 - a picture, not a secret

    def X(self, f: float) -> int:
        return round(f * self.w)

    def Y(self, f: float) -> int:
        return round(f * self.h)

    def U(self, f: float) -> int:
        return max(1, round(f * self.u))

    def lit(self, colour: str | Sequence[int], a: int = 255) -> RGBA:
        """A surface's colour in the moment's light (indoors the lamps soften the night)."""
        c = hexrgb(colour) if isinstance(colour, str) else colour
        amb = self.light.ambient
        if self.indoor:
            lamp = (1.0, 0.9, 0.76) if self.scene != "bar" else (0.78, 0.62, 0.7)
            daylight = 1 - self.light.darkness
            amb = tuple(lamp[i] * (1 - daylight) * 0.88 + amb[i] * daylight for i in range(3))
        return (
            min(255, round(c[0] * amb[0])),
            min(255, round(c[1] * amb[1])),
            min(255, round(c[2] * amb[2])),
            a,
        )

    def snowy(self, colour: str | Sequence[int], amount: float = 0.7) -> RGB:
        c = hexrgb(colour) if isinstance(colour, str) else tuple(colour[:3])
        return mix(c, (236, 240, 246), amount) if self.light.weather == "snow" and not self.indoor else c

    def rect(self, x0: float, y0: float, x1: float, y1: float, fill: Sequence[int], r: float = 0) -> None:
        box = (self.X(x0), self.Y(y0), self.X(x1), self.Y(y1))
        if box[2] <= box[0] or box[3] <= box[1]:
            return
        if r:
            self.d.rounded_rectangle(box, radius=self.U(r), fill=tuple(fill))
        else:
            self.d.rectangle(box, fill=tuple(fill))

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, fill: Sequence[int]) -> None:
        """An ellipse centred on (cx, cy) in fractions of the canvas, radii in short sides."""
        x, y = self.X(cx), self.Y(cy)
        self.d.ellipse((x - self.U(rx), y - self.U(ry), x + self.U(rx), y + self.U(ry)), fill=tuple(fill))

    def poly(self, points: Sequence[tuple[float, float]], fill: Sequence[int]) -> None:
        self.d.polygon([(self.X(x), self.Y(y)) for x, y in points], fill=tuple(fill))

    def line(self, points: Sequence[tuple[float, float]], fill: Sequence[int], width: float) -> None:
        self.d.line([(self.X(x), self.Y(y)) for x, y in points], fill=tuple(fill), width=self.U(width))

    def paste_gradient(self, box: tuple[float, float, float, float], stops: Sequence) -> None:
        x0, y0, x1, y1 = self.X(box[0]), self.Y(box[1]), self.X(box[2]), self.Y(box[3])
        if x1 > x0 and y1 > y0:
            self.im.paste(vertical_gradient((x1 - x0, y1 - y0), stops), (x0, y0))

    def glow(self, cx: float, cy: float, radius: float, colour: Sequence[int], strength: float = 1.0) -> None:
        """Light added around a point (screen blend of a soft spot)."""
        r = self.U(radius)
        x, y = self.X(cx), self.Y(cy)
        box = (x - r, y - r, x + r, y + r)
        spot = _falloff().resize((2 * r, 2 * r), Image.Resampling.BILINEAR)
        lut = [min(255, round(v * c * strength / 255)) for c in colour[:3] for v in range(256)]
        tint = Image.merge("RGB", (spot, spot, spot)).point(lut)
        self.im.paste(ImageChops.screen(self.im.crop(box), tint), box)

    def shadow(self, cx: float, cy: float, rx: float, ry: float, strength: float = 0.5) -> None:
        w, h = 2 * self.U(rx), 2 * self.U(ry)
        spot = _falloff().resize((w, h), Image.Resampling.BILINEAR).point(lambda v: round(v * strength))
        self.im.paste((10, 8, 14), (self.X(cx) - w // 2, self.Y(cy) - h // 2), spot)

    # ---------------------------------------------------------------------- whole

    def paint(self) -> None:
        m = self.moment
        if self.indoor:
            _SCENES[self.scene](self)
        else:
            self.sky((0, 0, 1, self.horizon))
            _SCENES[self.scene](self)
        self.event()
        self.people()
        for draw in self.later:
            draw()
        if not self.indoor:
            self.weather_overlay()
        if m.subject in ("item", "food") and (m.item_name or m.item_kind):
            self.defocus()
            self.shadow(0.5, 0.97, 0.7, 0.12, 0.45)
            draw_item(self)

    def defocus(self) -> None:
        """A shallow depth of field behind a close-up, blurred at half size (four times cheaper)."""
        half = self.im.reduce(2).filter(ImageFilter.GaussianBlur(self.u / 500))
        self.im.paste(half.resize(self.im.size, Image.Resampling.BILINEAR))

    # ------------------------------------------------------------------------ sky

    def sky(self, box: tuple[float, float, float, float], horizon: float | None = None) -> None:
        """The sky of the moment in ``box`` (fractions of the canvas), with its sun or moon, stars, clouds."""
        light = self.light
        top, middle, low = light.sky
        self.paste_gradient(box, [(0.0, top), (0.55, middle), (1.0, low)])
        x0, y0, x1, y1 = box
        horizon = y1 if horizon is None else horizon
        bw, bh = x1 - x0, horizon - y0
        rng = self.rng("sky")
        clear = light.weather in ("clear", "snow") or light.wetness == 0
        if light.moon and light.weather in ("clear", "fog"):
            stars = int(120 * bw * bh * (1.0 if light.weather == "clear" else 0.3)) + 4
            for _ in range(stars):
                sx, sy = x0 + rng.random() * bw, y0 + rng.random() ** 1.4 * bh * 0.9
                b = rng.randint(120, 255)
                size = 0.0016 if rng.random() < 0.85 else 0.003
                self.ellipse(sx, sy, size, size, (b, b, min(255, b + 20), 230))
        if light.moon and light.weather != "storm":
            mx, my = x0 + light.moon[0] * bw, horizon - light.moon[1] * bh * 0.9
            self.glow(mx, my, 0.2, (70, 80, 120), 0.9)
            self.ellipse(mx, my, 0.045, 0.045, (244, 240, 220, 255))
            for dx, dy, r in ((-0.012, -0.008, 0.01), (0.014, 0.01, 0.008), (-0.004, 0.018, 0.006)):
                self.ellipse(mx + dx * self.u / self.w, my + dy * self.u / self.h, r, r, (214, 210, 196, 255))
        if light.sun:
            sx = x0 + light.sun[0] * bw
            sy = horizon - light.sun[1] * bh * 0.82 + 0.02
            low = 1 - light.sun[1]
            disc = mix((255, 250, 228), (255, 150, 70), low**2)
            radius = 0.05 + 0.03 * low**2
            if clear:
                self.glow(sx, sy, 0.35 + 0.35 * low, mix((255, 236, 190), (255, 150, 80), low), 0.9)
                self.ellipse(sx, sy, radius, radius, (*disc, 255))
            else:
                self.glow(sx, sy, 0.3, (90, 90, 90), 0.5)
        self.clouds(box, horizon, rng)

    def clouds(self, box: tuple[float, float, float, float], horizon: float, rng: random.Random) -> None:
        light = self.light
        x0, y0, x1, _ = box
        bw, bh = x1 - x0, horizon - y0
        count = {"clear": 3, "fog": 2, "snow": 6, "rain": 8, "storm": 11}[light.weather]
        base = mix(light.sky[2], (255, 255, 255), 0.5)
        if light.weather in ("rain", "storm"):
            base = scaled(light.sky[1], 0.82 if light.weather == "rain" else 0.7)
        elif light.name in ("golden", "dawn", "dusk"):
            base = mix(light.sky[2], (255, 200, 210), 0.35)
        elif light.name == "night":
            base = mix(light.sky[1], (90, 96, 130), 0.5)
        under = scaled(base, 0.82)
        for _ in range(count):
            cx = x0 + rng.uniform(-0.1, 1.1) * bw
            cy = y0 + rng.uniform(0.12, 0.7) * bh
            width = rng.uniform(0.12, 0.26) * (1.3 if light.weather in ("rain", "storm") else 1.0)
            a = 235 if light.weather in ("rain", "storm") else 210
            puffs = [(rng.uniform(-1, 1) * width, rng.uniform(0.35, 0.7) * width * 0.55) for _ in range(5)]
            for dx, r in puffs:
                self.ellipse(cx + dx * 0.5 * self.u / self.w, cy + 0.01, r, r * 0.62, (*under, a))
            for dx, r in puffs:
                self.ellipse(cx + dx * 0.5 * self.u / self.w, cy - 0.006, r * 0.9, r * 0.52, (*base, a))
        if light.weather == "storm":
            self.lightning(x0 + rng.uniform(0.25, 0.75) * bw, y0 + 0.08 * bh, horizon, rng)

    def lightning(self, x: float, y: float, bottom: float, rng: random.Random) -> None:
        points = [(x, y)]
        while points[-1][1] < bottom - 0.05:
            px, py = points[-1]
            points.append((px + rng.uniform(-0.03, 0.03), py + rng.uniform(0.04, 0.08)))
        self.glow(x, (y + bottom) / 2, 0.3, (80, 80, 120), 0.7)
        self.line(points, (240, 240, 255, 255), 0.005)

    # ----------------------------------------------------------------- distances

    def far_layer(
        self, colour: str, heights: tuple[float, float], jag: float, part: str, haze: float
    ) -> None:
        """A distant silhouette (hills or rooftops) blended into the sky at the horizon."""
        rng = self.rng(part)
        c = mix(self.lit(colour)[:3], self.light.sky[2], haze)
        points = [(0.0, self.horizon)]
        x = 0.0
        while x < 1.05:
            points.append((x, self.horizon - rng.uniform(*heights)))
            x += jag * rng.uniform(0.6, 1.4)
        points.append((1.0, self.horizon))
        self.poly(points, (*c, 255))

    def skyline(self, part: str, colour: str, haze: float, height: float = 0.16) -> None:
        rng = self.rng(part)
        c = mix(self.lit(colour)[:3], self.light.sky[2], haze)
        x = -0.02
        while x < 1.0:
            w = rng.uniform(0.05, 0.12)
            top = self.horizon - rng.uniform(0.3, 1.0) * height
            self.rect(x, top, x + w, self.horizon + 0.005, (*c, 255))
            if self.light.darkness > 0.4:
                for wy in range(int((self.horizon - top) / 0.03)):
                    for wx in range(int(w / 0.02)):
                        if rng.random() < 0.35:
                            yy, xx = top + 0.015 + wy * 0.03, x + 0.008 + wx * 0.02
                            self.rect(xx, yy, xx + 0.007, yy + 0.012, (255, 214, 140, 220))
            x += w + rng.uniform(0.0, 0.02)

    def ground(self, near: str, far: str) -> None:
        far_c = mix(self.lit(self.snowy(far))[:3], self.light.sky[2], 0.25)
        self.paste_gradient((0, self.horizon, 1, 1), [(0.0, far_c), (1.0, self.lit(self.snowy(near))[:3])])

    def depth_y(self, z: float) -> float:
        """The height on the canvas of something at depth z (0 the horizon, 1 the bottom edge)."""
        return self.horizon + z * (1 - self.horizon)

    # ------------------------------------------------------------------- figures

    def person(self, x: float, feet: float, height: float, rng: random.Random) -> None:
        """A small figure standing at (x, feet); ``height`` in short sides of the canvas."""
        clothes = rng.choice(
            ["#c0504d", "#4f81bd", "#9bbb59", "#8064a2", "#f79646", "#2c3e50", "#e9c46a", "#e5989b"]
        )
        trousers = rng.choice(["#2e2e3a", "#3d405b", "#5c4033", "#1d3557"])
        skin = rng.choice(["#f1c27d", "#e0ac69", "#c68642", "#8d5524", "#ffdbac"])
        hair = rng.choice(["#2b1d14", "#4a3123", "#111111", "#7a5230", "#a0a0a0"])
        kx, ky = self.u / self.w * height, self.u / self.h * height

        def at(
            lx: float, ly: float
        ) -> tuple[float, float]:  # figure units: 1 is its height, up from the feet
            return (x + lx * kx, feet - ly * ky)

        def box(x0: float, y0: float, x1: float, y1: float, colour: Sequence[int], r: float = 0) -> None:
            (a, b), (c, d) = at(x0, y1), at(x1, y0)
            self.rect(a, b, c, d, colour, r * height)

        self.shadow(x, feet, height * 0.28, height * 0.05, 0.4)
        box(-0.095, 0.0, -0.01, 0.47, self.lit(trousers), 0.03)
        box(0.01, 0.0, 0.095, 0.47, self.lit(trousers), 0.03)
        for side in (-1, 1):
            self.ellipse(*at(side * 0.06, 0.015), height * 0.05, height * 0.022, self.lit("#1c1c1c"))
        body, sleeve = self.lit(clothes), self.lit(scaled(hexrgb(clothes), 0.82))
        box(-0.045, 0.78, 0.045, 0.84, self.lit(skin))  # the neck
        for side in (-1, 1):  # arms hang a little apart, hands showing
            box(min(side * 0.13, side * 0.2), 0.47, max(side * 0.13, side * 0.2), 0.8, sleeve, 0.035)
            self.ellipse(*at(side * 0.165, 0.46), height * 0.035, height * 0.035, self.lit(skin))
        if rng.random() < 0.35:  # a dress or a long coat
            self.poly([at(-0.14, 0.8), at(0.14, 0.8), at(0.2, 0.3), at(-0.2, 0.3)], body)
        else:
            box(-0.145, 0.44, 0.145, 0.81, body, 0.06)
        self.poly([at(0.03, 0.8), at(0.14, 0.8), at(0.16, 0.45), at(0.05, 0.45)], (0, 0, 0, 35))  # shade
        self.ellipse(*at(0.0, 0.92), height * 0.085, height * 0.09, self.lit(skin))
        self.d.chord(
            (
                self.X(at(-0.092, 0.0)[0]),
                self.Y(at(0, 1.025)[1]),
                self.X(at(0.092, 0.0)[0]),
                self.Y(at(0, 0.86)[1]),
            ),
            170,
            370,
            fill=self.lit(hair),
        )
        if self.light.weather in ("rain", "storm") and not self.indoor and rng.random() < 0.7:
            colour = self.lit(rng.choice(["#e63946", "#264653", "#f4a261", "#2a9d8f", "#f1faee"]))
            self.line([at(0.17, 0.46), at(0.17, 1.2)], self.lit("#333333"), height * 0.012)
            (a, b), (c, d) = at(-0.32, 1.32), at(0.62, 1.08)
            self.d.chord(
                (self.X(a), self.Y(b), self.X(c), self.Y(d) + (self.Y(d) - self.Y(b))), 180, 360, fill=colour
            )

    def people(self) -> None:
        m = self.moment
        count = max(0, min(m.people, 9))
        if m.event_kind == "gathering":
            count += 8
        if self.indoor:  # a room holds fewer before they hide it
            count = min(count, 6)
        if not count:
            return
        rng = self.rng("people")
        areas = self.stand or [(0.06, 0.94, 0.12, 0.75)]
        spots = []
        for _ in range(count):
            x0, x1, z0, z1 = rng.choice(areas)
            spots.append((rng.uniform(x0, x1), rng.uniform(z0, z1)))
        for x, z in sorted(spots, key=lambda spot: spot[1]):
            if self.indoor:  # the floor runs from the wall (0.68) to the bottom edge
                self.person(x, 0.68 + z * 0.3, 0.28 + 0.16 * z, rng)
            else:
                self.person(x, self.depth_y(z), 0.05 + 0.36 * z, rng)

    # --------------------------------------------------------------------- event

    def event(self) -> None:
        kind = self.moment.event_kind
        rng = self.rng("event")
        if kind == "market":
            if self.scene != "market" and not self.indoor:
                for i in range(3):
                    _stall(self, 0.12 + i * 0.32 + rng.uniform(-0.03, 0.03), self.depth_y(0.35), 0.22, rng)
            self.lanterns(rng)
        elif kind == "show":
            self.stage_lights(rng)
            self.bunting(0.06, rng)
        elif kind == "gathering":
            self.bunting(0.04, rng)
            self.bunting(0.16, rng)

    def bunting(self, y: float, rng: random.Random) -> None:
        colours = ["#e63946", "#f4a261", "#e9c46a", "#2a9d8f", "#457b9d", "#ffffff"]
        sag = 0.08
        steps = 16
        points = [(i / steps, y + sag * math.sin(math.pi * i / steps)) for i in range(steps + 1)]
        self.line(points, self.lit("#444444"), 0.002)
        for i in range(steps):
            (ax, ay), (bx, by) = points[i], points[i + 1]
            self.poly(
                [(ax, ay), (bx, by), ((ax + bx) / 2, (ay + by) / 2 + 0.05)], self.lit(rng.choice(colours))
            )

    def lanterns(self, rng: random.Random) -> None:
        for row, (y, sag) in enumerate(((0.08, 0.07), (0.16, 0.05))):
            steps = 7 + row
            self.line(
                [(i / 20, y + sag * math.sin(math.pi * i / 20)) for i in range(21)],
                self.lit("#3a2a20"),
                0.002,
            )
            for i in range(1, steps):
                x = i / steps + rng.uniform(-0.01, 0.01)
                ly = y + sag * math.sin(math.pi * x) + 0.03
                if self.light.darkness > 0.3:
                    self.glow(x, ly, 0.07, (150, 60, 20), 0.8)
                red = (225, 50, 40) if self.light.darkness > 0.3 else self.lit("#d62828")[:3]
                self.ellipse(x, ly, 0.026, 0.032, (*red, 255))
                self.rect(
                    x - 0.012 * self.u / self.w,
                    ly - 0.036,
                    x + 0.012 * self.u / self.w,
                    ly - 0.028,
                    self.lit("#e9c46a"),
                )
                self.line([(x, ly + 0.03), (x, ly + 0.055)], self.lit("#e9c46a"), 0.003)

    def stage_lights(self, rng: random.Random) -> None:
        colours = [(255, 90, 160), (90, 170, 255), (255, 210, 90), (140, 255, 170)]
        strength = 25 + round(50 * self.light.darkness)
        for _ in range(4):
            x = rng.uniform(0.1, 0.9)
            target = rng.uniform(0.15, 0.85)
            spread = rng.uniform(0.05, 0.1)
            colour = rng.choice(colours)
            self.poly(
                [(x - 0.01, 0.0), (x + 0.01, 0.0), (target + spread, 0.95), (target - spread, 0.95)],
                (*colour, strength),
            )
            self.glow(target, 0.9, 0.12, scaled(colour, 0.5), 0.9)

    # ------------------------------------------------------------------- weather

    def weather_overlay(self, box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)) -> None:
        """Rain, snow or fog over the whole outdoor picture, or over the window's view indoors."""
        light = self.light
        rng = self.rng("weather")
        x0, y0, x1, y1 = box
        area = (x1 - x0) * (y1 - y0)
        if light.weather in ("rain", "storm"):
            drops = int(420 * area * light.wetness * (1.5 if light.weather == "storm" else 1.0))
            slant = 0.015 if light.weather == "rain" else 0.04
            colour = (200, 210, 225, 90 if light.darkness < 0.5 else 70)
            for _ in range(drops):
                x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
                length = rng.uniform(0.03, 0.07)
                self.line([(x, y), (min(x1, x + slant), min(y1, y + length))], colour, 0.0018)
        elif light.weather == "snow":
            flakes = int(300 * area * max(1.0, light.wetness))
            for _ in range(flakes):
                r = rng.choice((0.002, 0.003, 0.003, 0.005))
                self.ellipse(rng.uniform(x0, x1), rng.uniform(y0, y1), r, r, (255, 255, 255, 210))
        elif light.weather == "fog" and not self.indoor:
            fog = mix((205, 208, 212), light.sky[2], 0.4)
            fog = scaled(fog, 0.4 + 0.6 * (1 - light.darkness))
            mask = vertical_gradient(
                self.im.size,
                [(0.0, (80,) * 3), (self.horizon, (185,) * 3), (1.0, (95,) * 3)],
            ).convert("L")
            if light.wetness > 1:
                mask = mask.point(lambda v: min(255, round(v * 1.15)))
            self.im.paste(Image.new("RGB", self.im.size, fog), (0, 0), mask)


# ------------------------------------------------------------------------------------ place kinds


def _tree(p: Painter, x: float, feet: float, size: float, rng: random.Random) -> None:
    k = p.u / p.h
    p.shadow(x, feet, size * 0.5, size * 0.1, 0.4)
    p.rect(
        x - size * 0.06 * p.u / p.w,
        feet - size * 0.6 * k,
        x + size * 0.06 * p.u / p.w,
        feet,
        p.lit("#6b4a32"),
    )
    greens = ["#3a7d44", "#4f9a4f", "#2f6b3a", "#5fae5a"]
    if p.light.name in ("golden", "dusk") and rng.random() < 0.3:
        greens = ["#b5652f", "#c98a3a", "#8e5a2c", "#d9a441"]
    dark, mid = greens[2], greens[rng.randrange(2)]
    cy = feet - size * 0.95 * k
    if rng.random() < 0.3:  # a pine
        for i in range(3):
            w, top = size * (0.45 - i * 0.1), feet - size * (0.35 + i * 0.35) * k
            p.poly(
                [(x - w * p.u / p.w, top), (x + w * p.u / p.w, top), (x, top - size * 0.6 * k)],
                p.lit(p.snowy(dark if i % 2 else mid, 0.35)),
            )
        return
    for dx, dy, r, colour in (
        (-0.22, 0.1, 0.34, dark),
        (0.24, 0.08, 0.32, dark),
        (0.0, -0.12, 0.42, mid),
        (-0.12, -0.02, 0.3, mid),
        (0.12, -0.26, 0.24, greens[3]),
    ):
        p.ellipse(
            x + dx * size * p.u / p.w, cy + dy * size * k, r * size, r * size, p.lit(p.snowy(colour, 0.4))
        )


def _bench(p: Painter, x: float, feet: float, width: float) -> None:
    k = p.u / p.h
    wood, iron = p.lit("#8a5a3b"), p.lit("#2f2f35")
    p.shadow(x, feet, width * 0.6, width * 0.08, 0.35)
    for dx in (-0.42, 0.42):
        p.rect(
            x + (dx - 0.02) * width * p.u / p.w,
            feet - 0.28 * width * k,
            x + (dx + 0.02) * width * p.u / p.w,
            feet,
            iron,
        )
    p.rect(
        x - 0.5 * width * p.u / p.w,
        feet - 0.3 * width * k,
        x + 0.5 * width * p.u / p.w,
        feet - 0.24 * width * k,
        wood,
    )
    p.rect(
        x - 0.5 * width * p.u / p.w,
        feet - 0.55 * width * k,
        x + 0.5 * width * p.u / p.w,
        feet - 0.45 * width * k,
        wood,
    )


def _lamp_post(p: Painter, x: float, feet: float, height: float) -> None:
    k = p.u / p.h
    top = feet - height * k
    p.rect(x - 0.005, top, x + 0.005, feet, p.lit("#2c2c34"))
    if p.light.darkness > 0.35:
        p.glow(x, top, 0.12 + height * 0.3, (255, 190, 110), 0.9)
        p.ellipse(x, top, height * 0.06, height * 0.06, (255, 236, 180, 255))
    else:
        p.ellipse(x, top, height * 0.05, height * 0.05, p.lit("#d8d4c0"))


def _park(p: Painter) -> None:
    p.stand = [(0.05, 0.95, 0.28, 0.8)]
    rng = p.rng("park")
    p.far_layer("#5b7f6a", (0.05, 0.12), 0.16, "hills-far", 0.55)
    p.far_layer("#4a7a50", (0.02, 0.06), 0.1, "hills-near", 0.35)
    p.ground("#4d8f3f", "#7fb069")
    # the lake along the horizon, with the sky in it
    lake = mix(p.light.sky[1], (40, 90, 120), 0.3)
    p.poly(
        [(0.45, p.depth_y(0.02)), (1.0, p.depth_y(0.0)), (1.0, p.depth_y(0.22)), (0.62, p.depth_y(0.12))],
        (*lake, 255),
    )
    p.line([(0.6, p.depth_y(0.06)), (0.95, p.depth_y(0.06))], (*mix(lake, (255, 255, 255), 0.4), 160), 0.003)
    path = p.lit(p.snowy("#d8c59a", 0.5))
    p.poly([(0.36, p.horizon), (0.42, p.horizon), (0.75, 1.0), (0.1, 1.0)], path)
    trees = sorted((rng.uniform(0.0, 1.0), rng.uniform(0.05, 0.55)) for _ in range(7))
    for x, z in sorted(trees, key=lambda t: t[1]):
        if 0.3 < x < 0.55 and z > 0.2:
            x += 0.3
        _tree(p, x, p.depth_y(z), 0.18 + 0.4 * z, rng)
    _bench(p, 0.82, p.depth_y(0.62), 0.2)
    _lamp_post(p, 0.12, p.depth_y(0.7), 0.5)
    for _ in range(30):  # flowers in the grass
        x, z = rng.uniform(0, 1), rng.uniform(0.3, 1.0)
        if p.light.weather != "snow":
            colour = rng.choice(["#f4d35e", "#ee964b", "#f95738", "#ffffff", "#c77dff"])
            p.ellipse(x, p.depth_y(z), 0.004 + 0.004 * z, 0.004 + 0.004 * z, p.lit(colour))


def _boat(p: Painter, x: float, y: float, size: float, rng: random.Random) -> None:
    k = p.u / p.h
    kx = p.u / p.w
    hull = p.lit(rng.choice(["#b23a48", "#1d3557", "#f1faee", "#2a9d8f", "#e76f51"]))
    p.poly(
        [
            (x - size * kx, y - size * 0.18 * k),
            (x + size * kx, y - size * 0.18 * k),
            (x + size * 0.75 * kx, y),
            (x - size * 0.8 * kx, y),
        ],
        hull,
    )
    p.rect(
        x - 0.3 * size * kx, y - size * 0.38 * k, x + 0.2 * size * kx, y - size * 0.18 * k, p.lit("#f1f1e6")
    )
    if rng.random() < 0.6:
        p.rect(
            x - 0.02 * size * kx,
            y - size * 1.4 * k,
            x + 0.02 * size * kx,
            y - size * 0.38 * k,
            p.lit("#5a4636"),
        )
        p.poly(
            [
                (x + 0.04 * size * kx, y - size * 1.35 * k),
                (x + 0.04 * size * kx, y - size * 0.45 * k),
                (x + 0.7 * size * kx, y - size * 0.45 * k),
            ],
            p.lit("#fdf6e3"),
        )
    p.d.line(
        [(p.X(x - size * kx * 0.9), p.Y(y + 0.004)), (p.X(x + size * kx * 0.9), p.Y(y + 0.004))],
        fill=(255, 255, 255, 60),
        width=p.U(0.003),
    )


def _gull(p: Painter, x: float, y: float, size: float) -> None:
    colour = (250, 250, 250, 230) if p.light.darkness < 0.5 else (40, 40, 50, 200)
    w = size * p.u / p.w
    p.d.arc(
        (p.X(x - w), p.Y(y - size * 0.5), p.X(x), p.Y(y + size * 0.5)),
        200,
        340,
        fill=colour,
        width=p.U(0.004),
    )
    p.d.arc(
        (p.X(x), p.Y(y - size * 0.5), p.X(x + w), p.Y(y + size * 0.5)),
        200,
        340,
        fill=colour,
        width=p.U(0.004),
    )


def _harbor(p: Painter) -> None:
    p.stand = [(0.03, 0.25, 0.38, 0.72)]
    rng = p.rng("harbor")
    p.far_layer("#5a6a7a", (0.02, 0.07), 0.2, "coast", 0.55)
    p.skyline("harbor-town", "#6d7b8d", 0.5, 0.07)
    horizon_sky, middle_sky = p.light.sky[2], p.light.sky[1]
    water_far = mix(horizon_sky, (40, 110, 150), 0.25)  # the sea mirrors the sky, deeper close by
    water_near = mix(scaled(middle_sky, 0.75), (20, 60, 100), 0.4)
    p.paste_gradient((0, p.horizon, 1, 1), [(0.0, water_far), (1.0, water_near)])
    light = p.light
    if light.sun or light.moon:  # the sun's or moon's path on the water
        body = light.sun or light.moon
        x = body[0]
        colour = (255, 200, 130) if light.sun else (220, 225, 240)
        for _ in range(40):
            z = rng.random()
            y = p.depth_y(z)
            w = (0.02 + 0.08 * z) * rng.uniform(0.5, 1.2)
            a = round(150 * (1 - z * 0.5)) if light.weather in ("clear", "fog") else 50
            p.rect(x - w / 2 + rng.uniform(-0.03, 0.03), y, x + w / 2, y + 0.004 + 0.004 * z, (*colour, a))
    for _ in range(50):  # ripples
        z = rng.random()
        x, y = rng.random(), p.depth_y(z)
        p.rect(x, y, x + 0.02 + 0.05 * z, y + 0.003, (255, 255, 255, 35))
    # the lighthouse on the point
    lx = 0.66
    p.rect(lx - 0.012, p.horizon - 0.15, lx + 0.012, p.horizon, p.lit("#f1f1f1"))
    p.rect(lx - 0.012, p.horizon - 0.1, lx + 0.012, p.horizon - 0.075, p.lit("#c1121f"))
    p.rect(lx - 0.01, p.horizon - 0.17, lx + 0.01, p.horizon - 0.15, (255, 230, 150, 255))
    if light.darkness > 0.35:
        p.glow(lx, p.horizon - 0.16, 0.12, (255, 210, 120), 1.0)
        p.poly(
            [(lx, p.horizon - 0.16), (lx - 0.4, p.horizon - 0.24), (lx - 0.4, p.horizon - 0.1)],
            (255, 240, 190, 40),
        )
    for i in range(rng.randint(2, 4)):
        z = rng.uniform(0.08, 0.5)
        _boat(p, rng.uniform(0.45, 0.95) if i else rng.uniform(0.5, 0.7), p.depth_y(z), 0.05 + 0.16 * z, rng)
    # the pier, in perspective from the left
    plank = p.lit(p.snowy("#8b6a4e", 0.5))
    dark = p.lit("#4f3a2b")
    p.poly([(0.0, p.depth_y(0.32)), (0.3, p.depth_y(0.3)), (0.55, 1.0), (0.0, 1.0)], plank)
    for i in range(9):
        t = i / 8
        y = p.depth_y(0.31 + 0.69 * t**1.6)
        p.line([(0.0, y), (0.3 + 0.25 * t**1.6, y)], (*dark[:3], 130), 0.002)
    for t in (0.15, 0.45, 0.85):
        x = 0.3 + 0.25 * t
        y = p.depth_y(0.3 + 0.7 * t)
        p.rect(x - 0.008 - 0.01 * t, y - 0.05 - 0.1 * t, x + 0.008 + 0.01 * t, y + 0.02, dark)
    _lamp_post(p, 0.22, p.depth_y(0.45), 0.42)
    for _ in range(rng.randint(2, 5)):
        _gull(p, rng.uniform(0.1, 0.9), rng.uniform(0.12, p.horizon - 0.15), rng.uniform(0.015, 0.03))


def _stall(p: Painter, x: float, feet: float, width: float, rng: random.Random) -> None:
    """A market stall: posts, a striped awning with a scalloped edge, baskets of fruit on a plank table."""
    k = p.u / p.h
    kx = p.u / p.w
    half = width / 2 * kx
    stripes = rng.choice(
        [("#e63946", "#f1faee"), ("#2a9d8f", "#e9f5db"), ("#f4a261", "#fff3e0"), ("#457b9d", "#f1faee")]
    )
    top = feet - width * 1.05 * k
    table = feet - width * 0.45 * k
    p.shadow(x, feet, width * 0.6, width * 0.08, 0.45)
    p.rect(x - half, top, x + half, table, (*p.lit("#3a2a20")[:3], 110))  # shade under the awning
    for dx in (-0.95, 0.95):
        p.rect(x + dx * half - 0.004, top, x + dx * half + 0.004, feet, p.lit("#5a4030"))
    p.rect(x - half, table, x + half, feet, p.lit("#8d6346"))
    for i in range(1, 6):  # the planks of the front
        px = x - half + i * 2 * half / 6
        p.line([(px, table), (px, feet)], (*p.lit("#5e4030")[:3], 150), 0.002)
    p.rect(
        x - half * 1.04, table - width * 0.05 * k, x + half * 1.04, table + width * 0.03 * k, p.lit("#a57b5a")
    )
    fruit = ["#f77f00", "#d62828", "#fcbf49", "#7cb518", "#9d4edd", "#ffba08"]
    basket = p.lit("#b08050")
    r = width * 0.045
    for col in range(4):
        colour = p.lit(rng.choice(fruit))
        light = mix(colour[:3], (255, 255, 255), 0.45)
        cx = x - half * 0.75 + col * half * 0.5
        for row, count in ((0, 4), (1, 3), (2, 2)):
            for j in range(count):
                fx = cx + (j - (count - 1) / 2) * r * 1.7 * kx
                fy = table - width * 0.06 * k - row * r * 1.3 * k
                p.ellipse(fx, fy, r, r, colour)
                p.ellipse(fx - r * 0.35 * kx, fy - r * 0.35 * k, r * 0.3, r * 0.3, (*light, 200))
        p.d.chord(
            (
                p.X(cx - half * 0.22),
                p.Y(table - width * 0.1 * k),
                p.X(cx + half * 0.22),
                p.Y(table + width * 0.04 * k),
            ),
            0,
            180,
            fill=basket,
        )
    n = 6
    edge = top + width * 0.22 * k
    p.poly(
        [
            (x - half * 1.15, top),
            (x + half * 1.15, top),
            (x + half * 0.9, top - width * 0.18 * k),
            (x - half * 0.9, top - width * 0.18 * k),
        ],
        p.lit(scaled(hexrgb(stripes[0]), 0.8)),
    )
    for i in range(n):  # the striped awning with a scalloped edge
        a, b = x - half * 1.15 + i * 2.3 * half / n, x - half * 1.15 + (i + 1) * 2.3 * half / n
        p.poly([(a, top), (b, top), (b, edge), (a, edge)], p.lit(stripes[i % 2]))
        p.ellipse((a + b) / 2, edge, (b - a) / 2 * p.w / p.u, width * 0.05, p.lit(stripes[i % 2]))


def _market(p: Painter) -> None:
    p.stand = [(0.3, 0.7, 0.3, 0.75), (0.05, 0.95, 0.25, 0.45)]
    rng = p.rng("market")
    p.skyline("market-town", "#8a6f5a", 0.35, 0.2)
    p.ground("#9a8270", "#c0a88f")
    for i in range(12):  # paving joints
        t = i / 11
        p.line(
            [(0.5 + (t - 0.5) * 0.3, p.horizon), (0.5 + (t - 0.5) * 2.4, 1.0)],
            (*p.lit("#7a6554")[:3], 70),
            0.0015,
        )
    busy = p.moment.event_kind == "market"
    count = 5 if busy else 4
    for i in range(count):  # the far row across the square
        _stall(p, (i + 0.5) / count + rng.uniform(-0.02, 0.02), p.depth_y(0.1), 0.16, rng)
    near = [0.1, 0.9] if not busy else [0.02, 0.2, 0.8, 0.98]

    def near_row() -> None:  # drawn after the people: they walk the aisle behind these
        for x in near:
            _stall(p, x, p.depth_y(0.85), 0.34, rng)

    p.later.append(near_row)


def _fountain(p: Painter, x: float, feet: float, width: float) -> None:
    k = p.u / p.h
    stone, rim = p.lit("#8f8a84"), p.lit("#e4dfd6")
    water = mix(p.light.sky[1], (120, 190, 230), 0.5)
    p.shadow(x, feet, width * 0.6, width * 0.1, 0.4)
    p.ellipse(x, feet - width * 0.12 * k, width * 0.5, width * 0.13, rim)
    p.rect(x - width * 0.5 * p.u / p.w, feet - width * 0.12 * k, x + width * 0.5 * p.u / p.w, feet, stone)
    p.ellipse(x, feet, width * 0.5, width * 0.13, stone)
    p.ellipse(x, feet - width * 0.125 * k, width * 0.45, width * 0.105, (*scaled(water, 0.8), 255))
    p.ellipse(x, feet - width * 0.115 * k, width * 0.42, width * 0.09, (*water, 255))
    p.rect(x - 0.016, feet - width * 0.55 * k, x + 0.016, feet - width * 0.11 * k, stone)
    p.ellipse(x, feet - width * 0.55 * k, width * 0.17, width * 0.045, rim)
    p.ellipse(x, feet - width * 0.56 * k, width * 0.14, width * 0.03, (*water, 255))
    for dx in (-0.3, -0.15, 0.15, 0.3):  # the jets, arcing down into the basin
        points = [
            (
                x + dx * s * width * p.u / p.w,
                feet - width * (0.6 + 0.25 * math.sin(math.pi * s) - 0.5 * s) * k,
            )
            for s in (i / 8 for i in range(9))
        ]
        p.line(points, (*mix(water, (255, 255, 255), 0.6), 170), 0.004)
    p.line(
        [(x, feet - width * 0.56 * k), (x, feet - width * 0.9 * k)],
        (*mix(water, (255, 255, 255), 0.7), 200),
        0.006,
    )


def _plaza(p: Painter) -> None:
    p.stand = [(0.05, 0.3, 0.2, 0.8), (0.7, 0.95, 0.2, 0.8), (0.3, 0.7, 0.6, 0.85)]
    rng = p.rng("plaza")
    p.skyline("plaza-town", "#b08968", 0.25, 0.24)
    p.ground("#b8a894", "#d8ccb8")
    for i in range(14):
        t = i / 13
        p.line(
            [(0.5 + (t - 0.5) * 0.5, p.horizon), (0.5 + (t - 0.5) * 3.0, 1.0)],
            (*p.lit("#9c8c78")[:3], 90),
            0.0015,
        )
    for i in range(1, 8):
        y = p.depth_y((i / 8) ** 1.7)
        p.line([(0, y), (1, y)], (*p.lit("#9c8c78")[:3], 90), 0.0015)
    _fountain(p, 0.5, p.depth_y(0.42), 0.5)
    _bench(p, 0.15, p.depth_y(0.55), 0.18)
    _bench(p, 0.86, p.depth_y(0.6), 0.18)
    _lamp_post(p, 0.28, p.depth_y(0.3), 0.4)
    _lamp_post(p, 0.72, p.depth_y(0.3), 0.4)
    _tree(p, 0.05, p.depth_y(0.2), 0.32, rng)
    _tree(p, 0.95, p.depth_y(0.25), 0.34, rng)
    for _ in range(rng.randint(3, 7)):  # pigeons
        x, z = rng.uniform(0.1, 0.9), rng.uniform(0.6, 0.95)
        y = p.depth_y(z)
        p.ellipse(x, y - 0.01, 0.01 + 0.006 * z, 0.007 + 0.004 * z, p.lit("#7d7f8a"))
        p.ellipse(x + 0.012 * z, y - 0.02, 0.005, 0.005, p.lit("#5f6170"))


def _building(
    p: Painter,
    x0: float,
    x1: float,
    top: float,
    bottom: float,
    wall: str,
    rng: random.Random,
    cols: int = 6,
    rows: int = 3,
) -> None:
    p.rect(x0, top, x1, bottom, p.lit(p.snowy(wall, 0.1)))
    p.rect(x0, top, x1, top + 0.02, p.lit("#6d5d50"))
    lit_at_night = p.light.darkness > 0.4
    for r in range(rows):
        for c in range(cols):
            wx0 = x0 + (x1 - x0) * (c + 0.25) / cols
            wx1 = x0 + (x1 - x0) * (c + 0.75) / cols
            wy0 = top + (bottom - top) * (r + 0.3) / (rows + 0.5)
            wy1 = wy0 + (bottom - top) * 0.45 / (rows + 0.5)
            on = lit_at_night and rng.random() < 0.6
            colour = (255, 214, 140, 255) if on else p.lit(mix(p.light.sky[1], (90, 120, 150), 0.5))
            p.rect(wx0, wy0, wx1, wy1, colour)
            p.rect(wx0, wy0, wx1, wy0 + 0.006, p.lit("#f5f0e6"))


def _school(p: Painter) -> None:
    p.stand = [(0.2, 0.9, 0.2, 0.75)]
    rng = p.rng("school")
    p.far_layer("#6b8f71", (0.03, 0.08), 0.15, "school-hills", 0.5)
    p.ground("#c77b52", "#d99a6c")  # the running track's red earth
    top = p.horizon - 0.3
    _building(p, 0.15, 0.85, top, p.horizon + 0.04, "#f2e2c4", rng, cols=8, rows=3)
    p.poly([(0.12, top + 0.01), (0.88, top + 0.01), (0.5, top - 0.1)], p.lit(p.snowy("#b5533c", 0.6)))
    p.ellipse(0.5, top - 0.03, 0.035, 0.035, p.lit("#ffffff"))  # the clock
    p.line([(0.5, top - 0.03), (0.5, top - 0.05)], p.lit("#222222"), 0.004)
    p.line([(0.5, top - 0.03), (0.515, top - 0.03)], p.lit("#222222"), 0.004)
    p.rect(0.44, p.horizon - 0.1, 0.56, p.horizon + 0.04, p.lit("#6b4a32"))
    p.rect(0.93, p.horizon - 0.42, 0.935, p.depth_y(0.3), p.lit("#cccccc"))  # the flagpole
    p.poly([(0.935, p.horizon - 0.42), (0.99, p.horizon - 0.4), (0.935, p.horizon - 0.37)], p.lit("#d62828"))
    for i in range(5):  # the track's lanes
        y = p.depth_y(0.35 + i * 0.1)
        p.line([(0.0, y), (1.0, y)], (*p.lit("#ffffff")[:3], 150), 0.003)
    _tree(p, 0.06, p.depth_y(0.2), 0.36, rng)
    _tree(p, 0.9, p.depth_y(0.3), 0.3, rng)
    p.rect(0.1, p.depth_y(0.85) - 0.18, 0.112, p.depth_y(0.85), p.lit("#555555"))  # a basketball hoop
    p.rect(0.07, p.depth_y(0.85) - 0.24, 0.15, p.depth_y(0.85) - 0.17, p.lit("#ffffff"))
    p.d.arc(
        (p.X(0.095), p.Y(p.depth_y(0.85) - 0.18), p.X(0.13), p.Y(p.depth_y(0.85) - 0.16)),
        0,
        360,
        fill=p.lit("#f77f00"),
        width=p.U(0.004),
    )


def _clinic(p: Painter) -> None:
    p.stand = [(0.05, 0.95, 0.2, 0.7)]
    rng = p.rng("clinic")
    p.skyline("clinic-town", "#8fa3b5", 0.4, 0.18)
    p.ground("#9aa3ab", "#c5ccd2")
    top = p.horizon - 0.32
    _building(p, 0.18, 0.82, top, p.horizon + 0.06, "#eef3f6", rng, cols=6, rows=3)
    p.rect(0.44, p.horizon - 0.08, 0.56, p.horizon + 0.06, p.lit("#9ad1d4"))  # the glass door
    p.rect(0.4, p.horizon - 0.11, 0.6, p.horizon - 0.08, p.lit("#2a9d8f"))  # the awning
    cross = (60, 220, 120, 255) if p.light.darkness > 0.4 else p.lit("#2bb673")
    cx, cy = 0.5, top + 0.05
    if p.light.darkness > 0.4:
        p.glow(cx, cy, 0.1, (40, 160, 80), 1.0)
    p.rect(cx - 0.012, cy - 0.035, cx + 0.012, cy + 0.035, cross)
    p.rect(cx - 0.035 * p.h / p.w, cy - 0.012, cx + 0.035 * p.h / p.w, cy + 0.012, cross)
    for x in (0.35, 0.65):  # potted plants by the door
        y = p.depth_y(0.12)
        p.rect(x - 0.02, y - 0.04, x + 0.02, y, p.lit("#c4734f"))
        p.ellipse(x, y - 0.06, 0.04, 0.04, p.lit("#4f9a4f"))
    p.line([(0.0, p.depth_y(0.55)), (1.0, p.depth_y(0.55))], (*p.lit("#ffffff")[:3], 120), 0.003)
    _tree(p, 0.08, p.depth_y(0.3), 0.34, rng)
    _lamp_post(p, 0.92, p.depth_y(0.4), 0.44)


def _street(p: Painter) -> None:
    p.stand = [(0.05, 0.95, 0.15, 0.7)]
    rng = p.rng("street")
    p.skyline("street-far", "#7f8c9a", 0.45, 0.22)
    p.ground("#6c6f75", "#8d9097")
    x = -0.02
    colours = ["#e5989b", "#ffcdb2", "#b5838d", "#a3c4bc", "#f2cc8f", "#81b29a", "#e07a5f"]
    while x < 1.0:
        w = rng.uniform(0.14, 0.24)
        top = p.horizon - rng.uniform(0.18, 0.34)
        _building(p, x, x + w, top, p.horizon + 0.05, rng.choice(colours), rng, cols=3, rows=3)
        x += w
    p.rect(0, p.horizon + 0.05, 1, p.horizon + 0.08, p.lit(p.snowy("#b0a89c", 0.5)))  # the pavement
    for i in range(6):  # lane marks
        t = i / 5
        p.rect(
            0.05 + t * 0.9 - 0.03, p.depth_y(0.55), 0.05 + t * 0.9 + 0.03, p.depth_y(0.58), p.lit("#e9e3d5")
        )
    _lamp_post(p, 0.2, p.depth_y(0.2), 0.45)
    _lamp_post(p, 0.8, p.depth_y(0.2), 0.45)
    _tree(p, 0.5, p.depth_y(0.18), 0.3, rng)


# ------------------------------------------------------------------------------------- interiors


def _room(
    p: Painter, wall: str, floor: str, window: tuple[float, float, float, float], planks: bool = True
) -> None:
    """Wall, floor and a window onto the moment's sky; daylight falls through it onto the floor."""
    floor_y = 0.68
    wall_c = p.lit(wall)[:3]
    p.paste_gradient((0, 0, 1, floor_y), [(0.0, scaled(wall_c, 0.82)), (1.0, wall_c)])
    p.paste_gradient((0, floor_y, 1, 1), [(0.0, scaled(p.lit(floor)[:3], 0.8)), (1.0, p.lit(floor)[:3])])
    if planks:
        for i in range(16):
            t = i / 15
            p.line([(0.5 + (t - 0.5) * 0.9, floor_y), (0.5 + (t - 0.5) * 2.6, 1.0)], (0, 0, 0, 40), 0.002)
    p.rect(0, floor_y - 0.012, 1, floor_y + 0.004, p.lit(mix(hexrgb(wall), (60, 40, 30), 0.5)))  # skirting
    x0, y0, x1, y1 = window
    outside = p.im.copy()  # the sky is drawn freely, then only the window's pane of it is kept
    p.sky(window, horizon=y1 - (y1 - y0) * 0.15)
    saved_horizon = p.horizon
    p.horizon = y1 - (y1 - y0) * 0.15
    rng = p.rng("window-town")
    c = mix(p.lit("#6d7b8d")[:3], p.light.sky[2], 0.5)
    x = x0
    while x < x1:  # rooftops across the street
        w = min(x1 - x, rng.uniform(0.04, 0.08))
        p.rect(x, p.horizon - rng.uniform(0.02, 0.12), x + w, y1, (*c, 255))
        x += w
    p.horizon = saved_horizon
    p.weather_overlay(window)
    pane = (p.X(x0), p.Y(y0), p.X(x1), p.Y(y1))
    view = p.im.crop(pane)
    p.im.paste(outside)
    p.im.paste(view, pane[:2])
    frame = p.lit("#f3ede2")
    t = 0.012
    p.rect(x0 - t, y0 - t, x1 + t, y0, frame)
    p.rect(x0 - t, y1, x1 + t, y1 + t * 1.5, frame)
    p.rect(x0 - t, y0, x0, y1, frame)
    p.rect(x1, y0, x1 + t, y1, frame)
    p.rect((x0 + x1) / 2 - t / 3, y0, (x0 + x1) / 2 + t / 3, y1, frame)
    p.rect(x0, (y0 + y1) / 2 - t / 3, x1, (y0 + y1) / 2 + t / 3, frame)
    day = 1 - p.light.darkness
    if day > 0.3 and p.light.weather in ("clear", "snow"):  # the window's light on the floor
        warm = (255, 236, 200) if p.light.name != "golden" else (255, 200, 130)
        a = round(70 * day)
        p.poly([(x0, y1), (x1, y1), (x1 + 0.18, 0.98), (x0 + 0.05, 0.98)], (*warm, a))


def _pendant(p: Painter, x: float, y: float, colour: str = "#2b2b2b") -> None:
    p.line([(x, 0.0), (x, y)], p.lit("#222222"), 0.002)
    p.d.chord(
        (p.X(x) - p.U(0.05), p.Y(y) - p.U(0.03), p.X(x) + p.U(0.05), p.Y(y) + p.U(0.04)),
        180,
        360,
        fill=p.lit(colour),
    )
    if p.light.darkness > 0.2 or p.scene == "bar":
        p.glow(x, y + 0.06, 0.25, (200, 140, 70), 0.8)
    p.ellipse(x, y + 0.008, 0.018, 0.01, (255, 230, 170, 255))


def _cafe(p: Painter) -> None:
    p.stand = [(0.05, 0.45, 0.5, 0.75), (0.42, 0.58, 0.1, 0.5)]
    rng = p.rng("cafe")
    _room(p, "#a8744f", "#6e4a33", (0.56, 0.1, 0.94, 0.52))
    # shelves with cups and jars behind the counter
    for y in (0.2, 0.34):
        p.rect(0.04, y, 0.46, y + 0.012, p.lit("#5a3a26"))
        x = 0.06
        while x < 0.44:
            if rng.random() < 0.5:
                p.rect(
                    x,
                    y - 0.05,
                    x + 0.035,
                    y,
                    p.lit(rng.choice(["#f1e3c8", "#c9b79c", "#8c5a3c", "#e5d3b3"])),
                    r=0.006,
                )
            else:
                p.ellipse(
                    x + 0.018, y - 0.02, 0.022, 0.02, p.lit(rng.choice(["#ffffff", "#e9c46a", "#2a9d8f"]))
                )
            x += 0.05
    # the counter with the espresso machine
    p.rect(0.0, 0.5, 0.52, 0.8, p.lit("#4a2c1b"))
    for x in (0.02, 0.19, 0.36):
        p.rect(x, 0.55, x + 0.14, 0.76, p.lit("#5e3a24"), r=0.01)
    p.rect(0.0, 0.48, 0.54, 0.52, p.lit("#d9c2a0"))
    p.rect(0.03, 0.38, 0.2, 0.48, p.lit("#b8bcc2"), r=0.01)
    p.rect(0.05, 0.4, 0.18, 0.43, p.lit("#6c7178"))
    for x in (0.07, 0.15):
        p.rect(x, 0.43, x + 0.02, 0.46, p.lit("#2b2b2b"))
    for _ in range(4):
        x = rng.uniform(0.24, 0.5)
        p.rect(x, 0.44, x + 0.03, 0.48, p.lit("#fbf6ee"), r=0.005)
    for i in range(3):
        _pendant(p, 0.15 + i * 0.35, 0.12 + (i % 2) * 0.04, "#2f2a24")
    # a table in the foreground with two cups and a plant by the window
    p.shadow(0.72, 0.92, 0.35, 0.05, 0.5)
    p.ellipse(0.72, 0.75, 0.3, 0.07, p.lit("#c49a6c"))
    p.rect(0.715, 0.75, 0.725, 0.92, p.lit("#3a2618"))
    for x in (0.64, 0.8):
        p.ellipse(x, 0.745, 0.045, 0.014, p.lit("#f7f3ea"))
        p.rect(x - 0.02, 0.7, x + 0.02, 0.74, p.lit("#ffffff"), r=0.008)
        p.ellipse(x, 0.7, 0.02, 0.006, p.lit("#6f4e37"))
    p.rect(0.9, 0.52, 0.96, 0.6, p.lit("#c4734f"))
    for dx, dy in ((-0.03, -0.05), (0.02, -0.08), (0.0, -0.03), (0.04, -0.04)):
        p.ellipse(0.93 + dx, 0.52 + dy, 0.035, 0.02, p.lit("#4f9a4f"))


def _books_row(p: Painter, x0: float, x1: float, y: float, height: float, rng: random.Random) -> None:
    colours = [
        "#9b2226",
        "#ae2012",
        "#bb3e03",
        "#ca6702",
        "#ee9b00",
        "#94d2bd",
        "#0a9396",
        "#005f73",
        "#3d405b",
        "#81b29a",
        "#f2cc8f",
    ]
    x = x0
    while x < x1 - 0.01:
        w = rng.uniform(0.008, 0.02)
        h = height * rng.uniform(0.65, 0.98)
        colour = p.lit(rng.choice(colours))
        if rng.random() < 0.06 and x + h * 0.8 < x1:  # a book lying down
            p.rect(x, y - w * 1.5, x + h * 0.75, y, colour)
            x += h * 0.75
            continue
        p.rect(x, y - h, x + w, y, colour)
        p.rect(x, y - h * 0.8, x + w, y - h * 0.76, (255, 240, 200, 90))
        x += w + 0.002


def _shelves(
    p: Painter, x0: float, x1: float, top: float, bottom: float, rows: int, rng: random.Random
) -> None:
    wood = p.lit("#6b4a32")
    p.rect(x0 - 0.01, top - 0.02, x1 + 0.01, bottom, p.lit("#4a3222"))
    step = (bottom - top) / rows
    for r in range(rows):
        y = top + (r + 1) * step
        _books_row(p, x0, x1, y - 0.012, step * 0.85, rng)
        p.rect(x0 - 0.01, y - 0.012, x1 + 0.01, y, wood)


def _library(p: Painter) -> None:
    p.stand = [(0.04, 0.2, 0.25, 0.8), (0.8, 0.96, 0.25, 0.8)]
    rng = p.rng("library")
    shop = p.scene in ("shop", "bookstore")
    _room(p, "#d8c3a5" if shop else "#8c6e54", "#7a5234", (0.38, 0.1, 0.62, 0.46))
    _shelves(p, 0.02, 0.32, 0.06, 0.66, 5, rng)
    _shelves(p, 0.68, 0.98, 0.06, 0.66, 5, rng)
    if shop:  # a display table of books in stacks
        p.shadow(0.5, 0.9, 0.3, 0.04, 0.5)
        p.rect(0.26, 0.72, 0.74, 0.76, p.lit("#8d6346"))
        p.rect(0.28, 0.76, 0.72, 0.9, p.lit("#6b4a32"))
        x = 0.29
        while x < 0.7:
            h = 0.0
            for _ in range(rng.randint(2, 5)):
                colour = p.lit(rng.choice(["#e76f51", "#2a9d8f", "#264653", "#e9c46a", "#f4a261", "#ffffff"]))
                p.rect(x, 0.72 - h - 0.02, x + 0.07, 0.72 - h, colour)
                h += 0.02
            x += 0.085
        return
    # a reading table with a green lamp
    p.shadow(0.5, 0.93, 0.35, 0.05, 0.5)
    p.rect(0.22, 0.74, 0.78, 0.78, p.lit("#5a3a26"))
    p.rect(0.25, 0.78, 0.28, 0.93, p.lit("#3a2618"))
    p.rect(0.72, 0.78, 0.75, 0.93, p.lit("#3a2618"))
    p.rect(0.59, 0.66, 0.6, 0.74, p.lit("#c9a227"))
    p.d.chord((p.X(0.54), p.Y(0.62), p.X(0.66), p.Y(0.7)), 180, 360, fill=p.lit("#1b5e20"))
    p.glow(0.6, 0.71, 0.18, (200, 170, 90), 0.5 + 0.5 * p.light.darkness)
    p.rect(0.36, 0.72, 0.46, 0.74, p.lit("#f7f3ea"))
    p.rect(0.41, 0.715, 0.415, 0.74, p.lit("#c9b79c"))


def _canvas_art(p: Painter, x0: float, y0: float, x1: float, y1: float, rng: random.Random) -> None:
    p.rect(x0, y0, x1, y1, p.lit("#fbf8f1"))
    palette = rng.choice(
        [
            ["#e63946", "#f4a261", "#2a9d8f"],
            ["#264653", "#e9c46a", "#f28482"],
            ["#5e60ce", "#48bfe3", "#ffd6a5"],
        ]
    )
    p.rect(x0, y0 + (y1 - y0) * 0.55, x1, y1, p.lit(palette[0]))
    r = min(x1 - x0, y1 - y0) * 0.35
    p.ellipse(
        x0 + (x1 - x0) * rng.uniform(0.3, 0.7),
        y0 + (y1 - y0) * 0.35,
        r * p.h / p.u,
        r * p.h / p.u,
        p.lit(palette[1]),
    )
    p.poly(
        [
            (x0, y0 + (y1 - y0) * 0.7),
            (x0 + (x1 - x0) * 0.4, y0 + (y1 - y0) * 0.4),
            (x1, y0 + (y1 - y0) * 0.75),
            (x1, y1),
            (x0, y1),
        ],
        p.lit(palette[2]),
    )


def _studio(p: Painter) -> None:
    p.stand = [(0.15, 0.5, 0.1, 0.7)]
    rng = p.rng("studio")
    _room(p, "#e9e4da", "#a88b6a", (0.08, 0.06, 0.5, 0.5))
    for _ in range(14):  # paint on the floor
        p.ellipse(
            rng.uniform(0.05, 0.95),
            rng.uniform(0.75, 0.98),
            0.01,
            0.005,
            p.lit(rng.choice(["#e63946", "#2a9d8f", "#e9c46a", "#457b9d"])),
        )
    # canvases leaning on the wall
    for x, w, h in ((0.56, 0.14, 0.2), (0.62, 0.12, 0.16), (0.85, 0.12, 0.24)):
        _canvas_art(p, x, 0.68 - h, x + w, 0.68, rng)
    # the easel with a painting on it
    wood = p.lit("#8d6346")
    p.line([(0.62, 0.95), (0.72, 0.3)], wood, 0.012)
    p.line([(0.84, 0.95), (0.74, 0.3)], wood, 0.012)
    p.line([(0.73, 0.3), (0.73, 0.9)], wood, 0.01)
    p.shadow(0.73, 0.95, 0.15, 0.03, 0.5)
    _canvas_art(p, 0.6, 0.36, 0.86, 0.64, rng)
    p.rect(0.6, 0.64, 0.86, 0.655, wood)
    p.rect(0.26, 0.76, 0.32, 0.84, p.lit("#b7c9d3"))  # a jar of brushes
    for dx in (-0.015, 0.0, 0.015):
        p.line([(0.29 + dx, 0.77), (0.29 + dx * 2, 0.68)], p.lit("#c08552"), 0.004)
    p.rect(0.1, 0.72, 0.22, 0.74, p.lit("#6b4a32"))  # a stool
    p.rect(0.11, 0.74, 0.12, 0.9, p.lit("#6b4a32"))
    p.rect(0.2, 0.74, 0.21, 0.9, p.lit("#6b4a32"))


def _gym(p: Painter) -> None:
    p.stand = [(0.1, 0.9, 0.05, 0.45)]
    rng = p.rng("gym")
    _room(p, "#c9d1d8", "#2f3338", (0.06, 0.08, 0.94, 0.42), planks=False)
    for i in range(6):  # rubber floor tiles
        p.line([(0, 0.7 + i * 0.055), (1, 0.7 + i * 0.055)], (0, 0, 0, 50), 0.002)
    # the dumbbell rack
    p.rect(0.05, 0.56, 0.5, 0.59, p.lit("#3c4046"))
    p.rect(0.06, 0.59, 0.08, 0.68, p.lit("#3c4046"))
    p.rect(0.47, 0.59, 0.49, 0.68, p.lit("#3c4046"))
    for i in range(7):
        x = 0.08 + i * 0.058
        size = 0.012 + i * 0.002
        p.rect(x, 0.545, x + 0.04, 0.552, p.lit("#9aa0a6"))
        p.ellipse(x, 0.548, size, size * 1.4, p.lit("#1f2226"))
        p.ellipse(x + 0.04, 0.548, size, size * 1.4, p.lit("#1f2226"))
    # a barbell on its stand
    p.rect(0.6, 0.45, 0.61, 0.68, p.lit("#5c6168"))
    p.rect(0.86, 0.45, 0.87, 0.68, p.lit("#5c6168"))
    p.rect(0.55, 0.46, 0.92, 0.47, p.lit("#c0c4c8"))
    for x in (0.57, 0.9):
        p.rect(
            x - 0.012, 0.41, x + 0.012, 0.52, p.lit(rng.choice(["#d62828", "#1d3557", "#2a9d8f"])), r=0.006
        )
    # mats and kettlebells on the floor
    for i, colour in enumerate(("#2a9d8f", "#8e7dbe", "#e76f51")):
        p.poly(
            [
                (0.15 + i * 0.25, 0.8),
                (0.33 + i * 0.25, 0.8),
                (0.36 + i * 0.25, 0.96),
                (0.12 + i * 0.25, 0.96),
            ],
            p.lit(colour),
        )
    for x in (0.08, 0.92):
        p.ellipse(x, 0.76, 0.03, 0.03, p.lit("#222428"))
        p.d.arc(
            (p.X(x) - p.U(0.02), p.Y(0.71), p.X(x) + p.U(0.02), p.Y(0.75)),
            180,
            360,
            fill=p.lit("#222428"),
            width=p.U(0.007),
        )
    for i in range(2):
        _pendant(p, 0.3 + i * 0.4, 0.04, "#e0e0e0")


def _bar(p: Painter) -> None:
    p.stand = [(0.6, 0.95, 0.55, 0.9)]
    rng = p.rng("bar")
    _room(p, "#4a2c3f", "#2a1a22", (0.7, 0.08, 0.95, 0.3))
    # the back bar: lit shelves of bottles
    p.rect(0.03, 0.1, 0.5, 0.48, p.lit("#24141c"))
    p.glow(0.27, 0.3, 0.3, (120, 70, 40), 0.9)
    for y in (0.22, 0.36):
        p.rect(0.04, y, 0.49, y + 0.01, (200, 150, 90, 255))
        x = 0.05
        while x < 0.47:
            colour = rng.choice(
                [(120, 190, 110), (190, 120, 60), (230, 200, 120), (140, 80, 160), (90, 140, 200)]
            )
            h = rng.uniform(0.06, 0.09)
            p.rect(x, y - h * 0.6, x + 0.022, y, (*colour, 230))
            p.rect(x + 0.007, y - h, x + 0.015, y - h * 0.6, (*colour, 230))
            x += 0.03
    # neon: a glowing ring and a wave (shapes, never words)
    pink, blue = (255, 70, 170), (70, 200, 255)
    p.glow(0.66, 0.36, 0.16, scaled(pink, 0.6), 1.0)
    p.d.ellipse(
        (p.X(0.66) - p.U(0.07), p.Y(0.36) - p.U(0.07), p.X(0.66) + p.U(0.07), p.Y(0.36) + p.U(0.07)),
        outline=(255, 170, 220),
        width=p.U(0.008),
    )
    wave = [(0.8 + i * 0.012, 0.4 + 0.02 * math.sin(i * 1.3)) for i in range(12)]
    p.glow(0.86, 0.4, 0.12, scaled(blue, 0.6), 1.0)
    p.line(wave, (170, 235, 255, 255), 0.007)
    # the little stage with a spotlight on the microphone
    p.rect(0.55, 0.66, 1.0, 0.72, p.lit("#3b2530"))
    p.poly([(0.78, 0.0), (0.8, 0.0), (0.9, 0.68), (0.68, 0.68)], (255, 230, 180, 45))
    p.glow(0.79, 0.66, 0.14, (150, 120, 80), 1.0)
    p.line([(0.79, 0.66), (0.79, 0.52)], (40, 40, 45, 255), 0.004)
    p.ellipse(0.79, 0.515, 0.01, 0.014, (70, 70, 75, 255))
    # the counter
    p.rect(0.0, 0.62, 0.52, 0.96, p.lit("#6b3626"))
    for x in (0.02, 0.19, 0.36):
        p.rect(x, 0.67, x + 0.14, 0.9, p.lit("#7d4430"), r=0.01)
    p.rect(0.0, 0.6, 0.54, 0.64, p.lit("#c07a4a"))
    p.glow(0.27, 0.6, 0.2, (90, 60, 30), 0.8)
    p.rect(0.0, 0.92, 0.52, 0.93, (200, 160, 90, 255))  # the brass foot rail
    for x in (0.12, 0.3, 0.44):
        p.rect(x, 0.54, x + 0.025, 0.6, (230, 200, 140, 160))
    for i in range(3):
        _pendant(p, 0.1 + i * 0.17, 0.06, "#b08d57")


def _home(p: Painter) -> None:
    p.stand = [(0.2, 0.8, 0.6, 0.9)]
    rng = p.rng("home")
    _room(p, rng.choice(["#e7d8c9", "#d6e2d3", "#e9dfd0"]), "#b08968", (0.34, 0.1, 0.66, 0.5))
    curtain = p.lit(rng.choice(["#e76f51", "#457b9d", "#f2cc8f"]))
    p.poly([(0.28, 0.06), (0.36, 0.06), (0.35, 0.56), (0.27, 0.58)], curtain)
    p.poly([(0.64, 0.06), (0.72, 0.06), (0.73, 0.58), (0.65, 0.56)], curtain)
    p.rect(0.26, 0.05, 0.74, 0.065, p.lit("#6b4a32"))
    # the rug and the sofa
    p.ellipse(0.5, 0.86, 0.45, 0.08, p.lit(rng.choice(["#c08497", "#84a59d", "#f6bd60"])))
    p.rect(0.2, 0.56, 0.8, 0.66, p.lit("#5e7b8c"), r=0.03)
    p.rect(0.17, 0.62, 0.83, 0.76, p.lit("#6f8fa1"), r=0.03)
    for x in (0.3, 0.45):
        p.rect(x, 0.58, x + 0.1, 0.66, p.lit(rng.choice(["#f4a261", "#e9c46a", "#ffffff"])), r=0.02)
    # a plant in the corner and a lamp on the other side
    p.rect(0.06, 0.72, 0.14, 0.84, p.lit("#c4734f"))
    for dx, dy, r in ((-0.04, -0.04, 0.05), (0.04, -0.08, 0.05), (0.0, -0.14, 0.06), (0.0, -0.04, 0.04)):
        p.ellipse(0.1 + dx, 0.72 + dy, r * 0.8, r, p.lit("#3a7d44"))
    p.rect(0.895, 0.36, 0.905, 0.82, p.lit("#333333"))
    lamp_on = p.light.darkness > 0.3
    shade = (255, 226, 165, 255) if lamp_on else p.lit("#f2e8cf")
    p.poly([(0.86, 0.36), (0.94, 0.36), (0.92, 0.28), (0.88, 0.28)], shade)
    if lamp_on:
        p.glow(0.9, 0.34, 0.55, (230, 160, 80), 1.0)
        p.glow(0.9, 0.33, 0.15, (200, 150, 90), 1.0)
    # a frame on the wall
    p.rect(0.8, 0.14, 0.94, 0.26, p.lit("#6b4a32"))
    _canvas_art(p, 0.81, 0.15, 0.93, 0.25, rng)


_SCENES: dict[str, Callable[[Painter], None]] = {
    "cafe": _cafe,
    "park": _park,
    "harbor": _harbor,
    "market": _market,
    "library": _library,
    "shop": _library,
    "bookstore": _library,
    "studio": _studio,
    "gym": _gym,
    "school": _school,
    "clinic": _clinic,
    "bar": _bar,
    "plaza": _plaza,
    "home": _home,
    "street": _street,
}


# ------------------------------------------------------------------------------------------ items


def _item_colour(p: Painter, colour: str | Sequence[int]) -> tuple[int, ...]:
    """An item's colour: half in the scene's light, half as it is (it is the picture's subject)."""
    if isinstance(colour, str):
        raw = hexrgb(colour)
        return (*mix(p.lit(raw)[:3], raw, 0.5), 255)
    return tuple(colour)


class Sprite:
    """An item drawn upright on its own, then turned a little and laid onto the scene."""

    def __init__(self, painter: Painter, size: int) -> None:
        self.p = painter
        self.s = size
        self.rgb = Image.new("RGB", (self.s, self.s))
        self.mask = Image.new("L", (self.s, self.s), 0)
        self.d = ImageDraw.Draw(self.rgb, "RGBA")
        self.m = ImageDraw.Draw(self.mask)

    def _box(self, cx: float, cy: float, rx: float, ry: float) -> tuple[int, int, int, int]:
        s = self.s
        return (round((cx - rx) * s), round((cy - ry) * s), round((cx + rx) * s), round((cy + ry) * s))

    def ellipse(
        self, cx: float, cy: float, rx: float, ry: float, colour: str | Sequence[int], solid: bool = True
    ) -> None:
        fill = _item_colour(self.p, colour)
        self.d.ellipse(self._box(cx, cy, rx, ry), fill=fill)
        if solid:
            self.m.ellipse(self._box(cx, cy, rx, ry), fill=255)

    def rect(
        self,
        x0: float,
        y0: float,
        x1: float,
        y1: float,
        colour: str | Sequence[int],
        r: float = 0,
        solid: bool = True,
    ) -> None:
        fill = _item_colour(self.p, colour)
        box = (round(x0 * self.s), round(y0 * self.s), round(x1 * self.s), round(y1 * self.s))
        self.d.rounded_rectangle(box, radius=round(r * self.s), fill=fill)
        if solid:
            self.m.rounded_rectangle(box, radius=round(r * self.s), fill=255)

    def poly(
        self, points: Sequence[tuple[float, float]], colour: str | Sequence[int], solid: bool = True
    ) -> None:
        fill = _item_colour(self.p, colour)
        pts = [(round(x * self.s), round(y * self.s)) for x, y in points]
        self.d.polygon(pts, fill=fill)
        if solid:
            self.m.polygon(pts, fill=255)

    def line(
        self,
        points: Sequence[tuple[float, float]],
        colour: str | Sequence[int],
        width: float,
        solid: bool = True,
    ) -> None:
        fill = _item_colour(self.p, colour)
        pts = [(round(x * self.s), round(y * self.s)) for x, y in points]
        self.d.line(pts, fill=fill, width=max(1, round(width * self.s)))
        if solid:
            self.m.line(pts, fill=255, width=max(1, round(width * self.s)))

    def place(self, cx: float, cy: float, angle: float) -> None:
        rgb, mask = self.rgb, self.mask
        if angle:
            rgb = rgb.rotate(angle, Image.Resampling.BICUBIC, expand=True)
            mask = mask.rotate(angle, Image.Resampling.BICUBIC, expand=True)
        p = self.p
        p.im.paste(rgb, (p.X(cx) - rgb.width // 2, p.Y(cy) - rgb.height // 2), mask)


_ITEM_WORDS: list[tuple[tuple[str, ...], str]] = [
    (("mooncake", "moon cake", "cake", "pastry", "bun", "cookie", "bread", "dumpling"), "mooncake"),
    (("coffee", "bean", "latte", "espresso", "cup", "mug", "tea", "yirgacheffe"), "coffee"),
    (("camera", "film", "lens"), "camera"),
    (("guitar", "ukulele", "violin", "bass", "instrument"), "guitar"),
    (("kite",), "kite"),
    (("chess", "xiangqi", "go board", "board game", "checkers"), "chess"),
    (("umbrella",), "umbrella"),
    (("yoga", "mat"), "mat"),
    (("book", "novel", "sketch", "notebook", "journal", "diary", "memories", "poems", "magazine"), "book"),
]
_KIND_ITEMS = {
    "food": "fruit",
    "book": "book",
    "instrument": "guitar",
    "toy": "kite",
    "game": "chess",
    "tool": "parcel",
}


def item_shape(moment: Moment) -> str:
    name = (moment.item_name or "").lower()
    for words, shape in _ITEM_WORDS:
        if any(word in name for word in words):
            return shape
    return _KIND_ITEMS.get((moment.item_kind or "").lower(), "parcel")


def draw_item(p: Painter) -> None:
    shape = item_shape(p.moment)
    rng = p.rng("item")
    size = round(p.u * 0.62)
    if shape == "kite":  # a kite belongs in the sky, its string running down out of the picture
        sprite = Sprite(p, size)
        _item_kite(sprite, rng)
        p.line([(0.55, 0.45), (0.62, 0.7), (0.75, 1.0)], (240, 240, 240, 200), 0.003)
        sprite.place(0.55, 0.33, rng.uniform(-15, 15))
        return
    sprite = Sprite(p, size)
    _ITEM_DRAWERS[shape](sprite, rng)
    x = 0.5 + rng.uniform(-0.12, 0.12)
    y = 1.0 - size / p.h * 0.5
    p.shadow(x, y + size / p.h * 0.34, 0.26, 0.05, 0.55)
    angle = rng.uniform(-6, 6) if shape not in ("coffee", "mooncake", "fruit") else 0.0
    sprite.place(x, y, angle)
    if shape == "coffee":
        for i in range(3):  # steam
            sx = x - 0.03 + i * 0.03
            points = [(sx + 0.012 * math.sin(j * 0.9 + i), y - size / p.h * 0.2 - j * 0.02) for j in range(9)]
            p.line(points, (255, 255, 255, 60), 0.008)


def _item_coffee(s: Sprite, rng: random.Random) -> None:
    s.ellipse(0.5, 0.76, 0.36, 0.1, "#e9e4dc")  # the saucer
    s.ellipse(0.5, 0.74, 0.3, 0.075, "#f8f5ef")
    s.ellipse(0.5, 0.68, 0.2, 0.06, (0, 0, 0, 60), solid=False)
    handle = _item_colour(s.p, "#f1ece3")
    s.d.ellipse(s._box(0.72, 0.52, 0.1, 0.08), outline=handle, width=round(0.035 * s.s))  # the handle
    s.m.ellipse(s._box(0.72, 0.52, 0.1, 0.08), outline=255, width=round(0.035 * s.s))
    s.poly([(0.26, 0.4), (0.74, 0.4), (0.7, 0.62), (0.3, 0.62)], "#fbf9f5")
    s.ellipse(0.5, 0.62, 0.2, 0.07, "#fbf9f5")
    s.poly([(0.62, 0.42), (0.72, 0.42), (0.68, 0.62), (0.6, 0.64)], (0, 0, 0, 22), solid=False)
    s.ellipse(0.5, 0.4, 0.24, 0.07, "#e8e2d8")
    s.ellipse(0.5, 0.405, 0.215, 0.058, "#7b4a2d")  # the coffee, with a heart of milk foam
    s.ellipse(0.475, 0.395, 0.045, 0.025, "#f3e3c8")
    s.ellipse(0.525, 0.395, 0.045, 0.025, "#f3e3c8")
    s.poly([(0.432, 0.4), (0.568, 0.4), (0.5, 0.44)], "#f3e3c8")
    name = (s.p.moment.item_name or "").lower()
    if "bean" in name or "yirgacheffe" in name or rng.random() < 0.3:
        for _ in range(9):
            bx, by = rng.uniform(0.08, 0.92), rng.uniform(0.84, 0.95)
            s.ellipse(bx, by, 0.035, 0.024, "#4a2c1a")
            s.line([(bx - 0.025, by), (bx + 0.025, by)], "#2a170c", 0.006)


def _item_mooncake(s: Sprite, rng: random.Random) -> None:
    s.ellipse(0.5, 0.7, 0.46, 0.14, "#f4efe6")  # the plate
    s.ellipse(0.5, 0.69, 0.39, 0.1, "#e6dfd2")
    cx = 0.42
    s.rect(cx - 0.25, 0.5, cx + 0.25, 0.62, "#a8602a")  # the side of the cake, fluted
    s.ellipse(cx, 0.62, 0.25, 0.07, "#a8602a")
    for i in range(9):
        x = cx - 0.22 + i * 0.055
        s.line([(x, 0.52), (x, 0.66 - 0.04 * abs(x - cx) / 0.25)], (120, 60, 20, 90), 0.01, solid=False)
    for i in range(16):  # the scalloped rim of the top
        a = 2 * math.pi * i / 16
        s.ellipse(cx + 0.245 * math.cos(a), 0.5 + 0.068 * math.sin(a), 0.03, 0.018, "#d89448")
    s.ellipse(cx, 0.5, 0.245, 0.068, "#e3a457")
    s.ellipse(cx, 0.5, 0.17, 0.045, "#cf8a3e")  # the pressed pattern
    s.ellipse(cx, 0.5, 0.15, 0.038, "#e8b164")
    for i in range(8):
        a = 2 * math.pi * i / 8
        s.ellipse(cx + 0.1 * math.cos(a), 0.5 + 0.026 * math.sin(a), 0.018, 0.008, "#c47f36")
    s.ellipse(cx, 0.5, 0.04, 0.012, "#c47f36")
    s.ellipse(cx - 0.1, 0.47, 0.08, 0.015, (255, 245, 220, 70), solid=False)
    # a wedge cut from another, showing the red bean paste and the salted yolk
    w = [(0.62, 0.66), (0.9, 0.6), (0.86, 0.5), (0.66, 0.56)]
    s.poly(w, "#b86b2e")
    s.poly([(0.64, 0.645), (0.88, 0.59), (0.85, 0.52), (0.67, 0.57)], "#6e2a1f")
    s.ellipse(0.77, 0.585, 0.035, 0.02, "#f0b840")
    s.poly([(0.66, 0.56), (0.86, 0.5), (0.84, 0.48), (0.68, 0.53)], "#e3a457")


def _item_fruit(s: Sprite, rng: random.Random) -> None:
    s.ellipse(0.5, 0.72, 0.44, 0.12, "#f4efe6")
    for _ in range(9):
        c = rng.choice(["#f77f00", "#d62828", "#fcbf49", "#7cb518", "#9d4edd"])
        fx, fy, r = rng.uniform(0.25, 0.75), rng.uniform(0.5, 0.66), rng.uniform(0.07, 0.1)
        s.ellipse(fx, fy, r, r, c)
        s.ellipse(fx - r * 0.35, fy - r * 0.35, r * 0.3, r * 0.25, (255, 255, 255, 70), solid=False)


def _item_book(s: Sprite, rng: random.Random) -> None:
    cover = rng.choice(["#7f1d1d", "#1d3557", "#2d6a4f", "#6d597a"])
    s.poly([(0.06, 0.3), (0.5, 0.36), (0.94, 0.3), (0.96, 0.74), (0.5, 0.8), (0.04, 0.74)], cover)
    s.poly([(0.09, 0.27), (0.5, 0.33), (0.5, 0.76), (0.08, 0.7)], "#fbf6ea")
    s.poly([(0.5, 0.33), (0.91, 0.27), (0.92, 0.7), (0.5, 0.76)], "#f6efdf")
    s.poly([(0.47, 0.33), (0.5, 0.33), (0.5, 0.76), (0.47, 0.75)], (0, 0, 0, 30), solid=False)
    sketch = "sketch" in (s.p.moment.item_name or "").lower()
    for side in (0, 1):
        x0 = 0.13 if side == 0 else 0.54
        if sketch and side == 1:  # a pencil sketch: a little house and the sun
            s.line(
                [(0.6, 0.6), (0.6, 0.48), (0.7, 0.4), (0.8, 0.48), (0.8, 0.6), (0.6, 0.6)], "#6c6c6c", 0.006
            )
            s.d.ellipse(s._box(0.83, 0.36, 0.035, 0.035), outline=s.p.lit("#6c6c6c"), width=3)
            continue
        for i in range(11):  # lines of print, too small to read
            y = 0.36 + i * 0.034 + (0.01 if side == 1 else 0)
            s.rect(x0, y, x0 + rng.uniform(0.26, 0.33), y + 0.008, (110, 100, 90, 150), solid=False)
    s.line([(0.5, 0.36), (0.5, 0.92)], "#c1121f", 0.012)  # the ribbon marker


def _item_camera(s: Sprite, rng: random.Random) -> None:
    s.rect(0.1, 0.36, 0.9, 0.74, "#2b2b2e", r=0.05)
    s.rect(0.1, 0.36, 0.9, 0.46, "#c9ccd1", r=0.03)  # the silver top plate
    s.rect(0.1, 0.46, 0.9, 0.7, "#3a3330")  # the leatherette
    s.rect(0.4, 0.26, 0.6, 0.38, "#c9ccd1", r=0.02)  # the viewfinder hump
    s.rect(0.72, 0.31, 0.8, 0.36, "#9ea3a9", r=0.01)
    s.rect(0.16, 0.32, 0.24, 0.36, "#1e1e1e")
    s.ellipse(0.5, 0.58, 0.2, 0.2, "#1b1b1d")  # the lens
    s.ellipse(0.5, 0.58, 0.16, 0.16, "#8d9299")
    s.ellipse(0.5, 0.58, 0.12, 0.12, "#121215")
    s.ellipse(0.5, 0.58, 0.07, 0.07, "#2b3a55")
    s.ellipse(0.47, 0.55, 0.03, 0.02, (255, 255, 255, 150), solid=False)
    s.rect(0.78, 0.4, 0.86, 0.43, "#f2f2f2")


def _item_guitar(s: Sprite, rng: random.Random) -> None:
    s.rect(0.46, 0.04, 0.54, 0.14, "#3b2416", r=0.02)  # the headstock
    s.rect(0.475, 0.1, 0.525, 0.5, "#5a3a22")  # the neck
    for i in range(8):
        s.line([(0.475, 0.14 + i * 0.042), (0.525, 0.14 + i * 0.042)], "#d8d2c4", 0.004)
    body = "#c98a4b"
    s.ellipse(0.5, 0.55, 0.17, 0.13, body)
    s.ellipse(0.5, 0.77, 0.23, 0.18, body)
    s.rect(0.36, 0.58, 0.64, 0.7, body)
    s.ellipse(0.5, 0.62, 0.065, 0.065, "#2a1a10")  # the sound hole
    s.rect(0.43, 0.83, 0.57, 0.86, "#3b2416", r=0.01)  # the bridge
    for i in range(6):
        x = 0.486 + i * 0.0056
        s.line([(x, 0.12), (x, 0.845)], (230, 225, 210, 200), 0.002, solid=False)
    s.ellipse(0.42, 0.73, 0.07, 0.1, (255, 230, 190, 40), solid=False)


def _item_kite(s: Sprite, rng: random.Random) -> None:
    colours = rng.sample(["#e63946", "#f4a261", "#2a9d8f", "#457b9d", "#e9c46a"], 4)
    top, left, right, bottom, centre = (0.5, 0.06), (0.16, 0.36), (0.84, 0.36), (0.5, 0.74), (0.5, 0.36)
    s.poly([top, right, centre], colours[0])
    s.poly([right, bottom, centre], colours[1])
    s.poly([bottom, left, centre], colours[2])
    s.poly([left, top, centre], colours[3])
    s.line([top, bottom], "#5a4636", 0.008)
    s.line([left, right], "#5a4636", 0.008)
    tail = [(0.5 + 0.04 * math.sin(i * 0.9), 0.74 + i * 0.03) for i in range(8)]
    s.line(tail, "#f1faee", 0.005)
    for i, (x, y) in enumerate(tail[1::2]):
        c = colours[i % 4]
        s.poly([(x - 0.04, y - 0.02), (x, y), (x - 0.04, y + 0.02)], c)
        s.poly([(x + 0.04, y - 0.02), (x, y), (x + 0.04, y + 0.02)], c)


def _item_chess(s: Sprite, rng: random.Random) -> None:
    s.poly([(0.14, 0.3), (0.86, 0.3), (0.98, 0.8), (0.02, 0.8)], "#e3b36b")  # the board in perspective
    s.poly([(0.02, 0.8), (0.98, 0.8), (0.98, 0.84), (0.02, 0.84)], "#9c6b30")
    for i in range(9):
        t = i / 8
        s.line([(0.14 + 0.72 * t, 0.3), (0.02 + 0.96 * t, 0.8)], "#6b4423", 0.004)
    for j in range(10):
        t = j / 9
        y = 0.3 + 0.5 * t
        s.line([(0.14 - 0.12 * t, y), (0.86 + 0.12 * t, y)], "#6b4423", 0.004)
    for _ in range(14):  # round xiangqi pieces, red and black rims
        i, j = rng.randrange(9), rng.randrange(10)
        t = j / 9
        x = 0.14 - 0.12 * t + (0.72 + 0.24 * t) * i / 8
        y = 0.3 + 0.5 * t
        r = 0.03 + 0.015 * t
        rim = "#b3261e" if rng.random() < 0.5 else "#1c1c1c"
        s.ellipse(x, y + r * 0.25, r, r * 0.62, "#a67c52")
        s.ellipse(x, y, r, r * 0.62, "#f1dcb5")
        s.d.ellipse(
            s._box(x, y, r * 0.7, r * 0.43), outline=s.p.lit(rim), width=max(2, round(r * s.s * 0.12))
        )


def _item_umbrella(s: Sprite, rng: random.Random) -> None:
    clear = "clear" in (s.p.moment.item_name or "").lower()
    canopy = (
        (236, 244, 252, 255) if clear else _item_colour(s.p, rng.choice(["#e63946", "#264653", "#f4a261"]))
    )
    s.d.pieslice(s._box(0.5, 0.5, 0.42, 0.3), 180, 360, fill=canopy)
    s.m.pieslice(s._box(0.5, 0.5, 0.42, 0.3), 180, 360, fill=185 if clear else 255)
    s.d.arc(s._box(0.5, 0.5, 0.42, 0.3), 180, 360, fill=(255, 255, 255, 255), width=round(0.012 * s.s))
    s.m.arc(s._box(0.5, 0.5, 0.42, 0.3), 180, 360, fill=255, width=round(0.012 * s.s))
    for i in range(1, 6):
        a = math.pi + math.pi * i / 6
        s.line([(0.5, 0.2), (0.5 + 0.42 * math.cos(a), 0.5 + 0.3 * math.sin(a) + 0.0)], "#9aa5b1", 0.004)
    s.line([(0.5, 0.16), (0.5, 0.82)], "#4a4e55", 0.012)
    s.d.arc(s._box(0.45, 0.82, 0.05, 0.05), 0, 180, fill=s.p.lit("#4a4e55"), width=round(0.012 * s.s))
    s.m.arc(s._box(0.45, 0.82, 0.05, 0.05), 0, 180, fill=255, width=round(0.012 * s.s))


def _item_mat(s: Sprite, rng: random.Random) -> None:
    colour = rng.choice(["#8e7dbe", "#2a9d8f", "#e76f51"])
    s.rect(0.14, 0.42, 0.8, 0.66, colour, r=0.01)
    s.rect(0.14, 0.42, 0.8, 0.48, (255, 255, 255, 40), solid=False)
    s.ellipse(0.8, 0.54, 0.07, 0.12, colour)
    for r in (0.055, 0.035, 0.015):
        s.d.ellipse(s._box(0.8, 0.54, r, r * 1.7), outline=s.p.lit("#3d3d5c"), width=3)
    s.line([(0.3, 0.42), (0.3, 0.66)], "#333333", 0.01)
    s.line([(0.62, 0.42), (0.62, 0.66)], "#333333", 0.01)


def _item_parcel(s: Sprite, rng: random.Random) -> None:
    paper = rng.choice(["#c9a27e", "#e76f51", "#2a9d8f"])
    s.poly([(0.2, 0.42), (0.5, 0.34), (0.82, 0.42), (0.5, 0.5)], mix(hexrgb(paper), (255, 255, 255), 0.2))
    s.poly([(0.2, 0.42), (0.5, 0.5), (0.5, 0.8), (0.2, 0.7)], paper)
    s.poly([(0.5, 0.5), (0.82, 0.42), (0.82, 0.72), (0.5, 0.8)], scaled(hexrgb(paper), 0.8))
    s.line([(0.35, 0.38), (0.66, 0.46), (0.66, 0.76)], "#f1faee", 0.02)
    s.line([(0.35, 0.46), (0.35, 0.75)], "#f1faee", 0.02)
    s.ellipse(0.46, 0.4, 0.06, 0.03, "#f1faee")
    s.ellipse(0.56, 0.4, 0.06, 0.03, "#f1faee")


_ITEM_DRAWERS: dict[str, Callable[[Sprite, random.Random], None]] = {
    "coffee": _item_coffee,
    "mooncake": _item_mooncake,
    "fruit": _item_fruit,
    "book": _item_book,
    "camera": _item_camera,
    "guitar": _item_guitar,
    "kite": _item_kite,
    "chess": _item_chess,
    "umbrella": _item_umbrella,
    "mat": _item_mat,
    "parcel": _item_parcel,
}


# ------------------------------------------------------------------------------------------ finish


@lru_cache(maxsize=4)
def _vignette(size: tuple[int, int]) -> Image.Image:
    """How much each pixel keeps: 255 in the middle, darker towards the corners."""
    small = Image.radial_gradient("L").point(
        lambda v: round(255 * (1 - 0.42 * max(0.0, (v - 60) / 150) ** 1.6))
    )
    small = small.resize(size, Image.Resampling.BILINEAR)
    return Image.merge("RGB", (small, small, small))


def _grain(size: tuple[int, int], seed: int) -> Image.Image:
    """Mid-grey film grain from the seed, tiled (soft light of 128 leaves a pixel as it is)."""
    rng = random.Random(f"{seed}:grain")  # noqa: S311 - a picture, not a secret
    tile_side = 256
    noise = Image.frombytes("L", (tile_side, tile_side), rng.randbytes(tile_side * tile_side))
    noise = noise.point(lambda v: 128 + (v - 128) // 9)
    grain = Image.new("L", size)
    for y in range(0, size[1], tile_side):
        for x in range(0, size[0], tile_side):
            grain.paste(noise, (x, y))
    return grain


def _finish(image: Image.Image, seed: int) -> Image.Image:
    image = ImageChops.multiply(image, _vignette(image.size))
    grain = _grain(image.size, seed).convert("RGB")
    return ImageChops.soft_light(image, grain)
