"""tap_gitlab/singer_output.py `dumps` (orjson where it writes the same) gives `sdk_dumps`'s bytes (singer-sdk's
simplejson serialization), for random and adversarial values; and orjson takes the common values itself."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import decimal
import enum
import math
import random
import struct
import typing as t
import uuid
from zoneinfo import ZoneInfo

import orjson
import pytest
import simplejson
from singer_sdk.singerlib.json import serialize_json

from tap_gitlab import singer_output
from tap_gitlab.singer_output import dumps, sdk_dumps

UTC = datetime.UTC


def same(value: t.Any) -> None:
    expected = sdk_dumps(value)
    assert expected == serialize_json(value).encode()  # the reference is singer-sdk's own function
    assert dumps(value) == expected, repr(value)


# -- the reference and the fast path -------------------------------------------------------------------------


class Spy:
    """singer_output's simplejson encoder, counting the messages it writes (the fallback)."""

    def __init__(self, encoder: t.Any) -> None:
        self.encoder = encoder
        self.calls = 0

    def encode(self, value: t.Any) -> str:
        self.calls += 1
        return t.cast(str, self.encoder.encode(value))


@pytest.fixture
def fallback(monkeypatch: pytest.MonkeyPatch) -> Spy:
    spy = Spy(singer_output._ENCODER)
    monkeypatch.setattr(singer_output, "_ENCODER", spy)
    return spy


FAST = [
    {"id": 1, "name": "plain", "nested": {"list": [1, -2, 3.5, None, True, False, [], {}]}},
    {"non_ascii": "Zoë 日本語 😀 \u2028\u2029 \u00a0 \ufeff", "del": "a\x7fb", "ké": "clé"},
    {"controls": "".join(map(chr, range(32))) + '"\\/'},
    {"backslashes": "\\x41 \\U0001F600 \\u00e9"},  # all ASCII: orjson's text as it is
    {"backslashes": ["é \\u00e9 \\n \\\\ \\X \\u", "\x7f\\u"]},  # no backslash before x or U
    {"floats": [0.0, -0.0, 1e-4, -1e-4, 0.00012, 0.1, 1.5, 123456789.125, 1e15, 1e16, 1.7976931348623157e308]},
    {"more_floats": [9999999999999998.0, 1e22, 2.5e100, -3.14159, 0.3333333333333333, 5e-1]},
    {"ints": [0, -1, 2**63 - 1, -(2**63), 2**64 - 1]},
    {"not_finite": [math.nan, math.inf, -math.inf]},
    {"text_like_numbers": ["e-", "one-e-two", "0.0001", "10.00001", "3e4f", "2024-01-01"]},
    {"tuple": (1, "a", (2.5,))},
    {"dt": datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC), "naive": datetime.datetime(2024, 5, 6)},
    {"zone": datetime.datetime(2024, 11, 3, 1, 30, tzinfo=ZoneInfo("America/New_York"), fold=1)},
    {"date": datetime.date(2024, 5, 6), "time": datetime.time(1, 2, 3, 4), "tz_time": datetime.time(1, tzinfo=UTC)},
    {"decimals": [decimal.Decimal("1.10"), decimal.Decimal("1E+2"), decimal.Decimal("-0"), decimal.Decimal("0E-7")]},
    {"uuid": uuid.UUID("12345678-1234-5678-1234-567812345678")},
    "a string",
    12,
    None,
    [],
]


@pytest.mark.parametrize("value", FAST, ids=range(len(FAST)))
def test_orjson_writes_the_sdks_bytes_for_json_values(value: t.Any, fallback: Spy) -> None:
    same(value)
    assert fallback.calls == 1  # `same`'s own reference only: `dumps` took the orjson path


class Color(enum.Enum):
    RED = 1


class Shade(enum.StrEnum):
    DARK = "dark"


class Level(enum.IntEnum):
    HIGH = 3


class Text(str):
    pass


class Number(int):
    def __str__(self) -> str:
        return "not the number"


class Real(float):
    pass


class Mapping(dict):  # type: ignore[type-arg]
    pass


class Items(list):  # type: ignore[type-arg]
    pass


Pair = collections.namedtuple("Pair", "a b")


@dataclasses.dataclass
class Point:
    x: int = 1


class WithAsdict:
    def _asdict(self) -> dict[str, int]:
        return {"from_asdict": 1}


moved = collections.OrderedDict(a=1, b=2)
moved.move_to_end("a")
deep: t.Any = []
for _ in range(300):
    deep = [deep]

SLOW = [
    {"small": 1e-05},
    {"small": -9.5e-05},
    {"small": 1e-07},
    {"small": 1.5e-300},
    {"small": 5e-324},
    {"small": -2.2250738585072014e-308},
    {"small": [1, 2, 0.000099999]},
    {"text": "1e-05"},  # a string the float guard cannot tell from a float: simplejson, the same bytes
    {"text": "0.00001"},
    {"text": "é and \\x41"},  # non-ASCII and an escaped backslash before x (or U): simplejson
    {"text": "\x7f\\U0001f600"},
    {"big_int": 2**64},
    {"big_int": -(2**63) - 1},
    {"big_int": 10**40},
    {1: "int key"},
    {2.5: "float key", math.nan: "nan key"},
    {True: "bool key", None: "none key"},
    {decimal.Decimal("1.5"): "decimal key"},
    {Text("k"): "str subclass key"},
    {"str_subclass": Text("x")},
    {"int_subclass": Number(7)},
    {"float_subclass": Real(0.5)},
    Mapping(a=1),
    Items([1]),
    {"namedtuple": Pair(1, 2)},
    {"dataclass": Point()},
    {"asdict": WithAsdict()},
    moved,
    {"bytes": b"caf\xc3\xa9"},
    {"set": {1}},
    {"frozenset": frozenset()},
    {"decimal_nan": [decimal.Decimal("NaN"), decimal.Decimal("-Infinity"), decimal.Decimal("sNaN")]},
    {"lone_surrogate": "\ud800 and \udfff"},
    {"raw": simplejson.RawJSON('{"raw":true}')},
    {"object": object.__new__(type("Thing", (), {"__str__": lambda self: "thing"}))},
    deep,
]


@pytest.mark.parametrize("value", SLOW, ids=range(len(SLOW)))
def test_what_orjson_writes_otherwise_goes_to_simplejson(value: t.Any, fallback: Spy) -> None:
    same(value)
    assert fallback.calls == 2  # `same`'s reference, and `dumps`'s fallback


def test_enums_that_are_also_str_or_int_are_the_sdks_bytes() -> None:
    same({"shade": Shade.DARK, "level": Level.HIGH, "keys": [Shade.DARK]})
    assert Color.RED.value == 1  # a plain Enum member is out of dumps' domain (the module's docstring)


def test_a_circular_value_is_the_same_error() -> None:
    loop: list[t.Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        sdk_dumps(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        dumps(loop)


def test_every_character_escapes_as_simplejson_escapes_it() -> None:
    every = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for start in range(0, len(every), 4096):
        same({"".join(every[start : start + 4096]): every[start : start + 64]})
    same({"odd": "".join(random.Random(5).choices(every, k=20000))})


# -- floats --------------------------------------------------------------------------------------------------


def random_floats(rnd: random.Random, count: int) -> t.Iterator[float]:
    """Bit patterns (every exponent), decimal-looking values, and values just around powers of ten."""
    for _ in range(count):
        yield struct.unpack("<d", struct.pack("<Q", rnd.getrandbits(64)))[0]
        digits = rnd.randint(1, 17)
        yield float(f"{rnd.randint(0, 10**digits)}e{rnd.randint(-30, 30)}") * rnd.choice((1, -1))
        yield rnd.uniform(-1e6, 1e6)
        yield rnd.randint(-(2**60), 2**60) / rnd.choice((1, 10, 100, 1000, 3, 7, 1 << 20))
        power = 10.0 ** rnd.randint(-325, 308)
        yield rnd.choice((power, math.nextafter(power, 0), math.nextafter(power, math.inf), -power))


@pytest.mark.parametrize("seed", [1, 2])
def test_orjson_writes_repr_for_every_float_but_the_small_ones_which_the_guard_catches(seed: int) -> None:
    rnd = random.Random(seed)
    tiny = 0
    for x in random_floats(rnd, 40_000):
        text = orjson.dumps(x)
        if not math.isfinite(x):
            assert text == b"null"
        elif x == 0 or abs(x) >= 1e-4:
            assert text == repr(x).encode(), x  # the rule: orjson's text is repr's
        else:
            tiny += 1
            assert singer_output._NEGATIVE_EXPONENT(text) or singer_output._SMALL_PLAIN(text), x
    assert tiny > 10_000


@pytest.mark.parametrize("seed", [3, 4])
def test_floats_in_messages_are_the_sdks_bytes(seed: int) -> None:
    rnd = random.Random(seed)
    floats = list(random_floats(rnd, 4_000))
    for start in range(0, len(floats), 50):
        chunk = floats[start : start + 50]
        same({"values": chunk, "first": chunk[0]})
        for x in chunk[:3]:
            same(x)


# -- random values -------------------------------------------------------------------------------------------

POOLS = [
    (0x20, 0x7E),  # printable ASCII
    (0x00, 0x1F),  # controls
    (0x7F, 0x7F),  # DEL
    (0x80, 0xFF),
    (0x100, 0xD7FF),
    (0xE000, 0xFFFF),
    (0x10000, 0x10FFFF),
    (0x2028, 0x2029),
]
FRAGMENTS = ["1e-05", "0.00001", ":0.0000", "e-", "5e-7", ",-0.00001]", "\\u00e9", '"', "\\", "null", "NaN"]


def random_string(rnd: random.Random, *, adversarial: bool = True) -> str:
    if adversarial and rnd.random() < 0.1:
        return rnd.choice(FRAGMENTS) + rnd.choice(FRAGMENTS)
    chars = []
    for _ in range(rnd.choice((0, 1, 3, 10, 40))):
        low, high = POOLS[0] if rnd.random() < 0.6 else rnd.choice(POOLS)
        chars.append(chr(rnd.randint(low, high)))
    if adversarial and rnd.random() < 0.01:
        chars.append(chr(rnd.randint(0xD800, 0xDFFF)))  # a lone surrogate: orjson refuses it
    return "".join(chars)


def random_scalar(rnd: random.Random) -> t.Any:
    kind = rnd.randrange(12)
    if kind <= 2:
        return random_string(rnd)
    if kind == 3:
        return rnd.choice((rnd.randint(-1000, 1000), rnd.randint(-(2**63), 2**64 - 1), rnd.randint(-(10**30), 10**30)))
    if kind == 4:
        return next(random_floats(rnd, 1))
    if kind == 5:
        return rnd.choice((True, False, None, math.nan, math.inf))
    if kind == 6:
        return decimal.Decimal(rnd.choice(("1.10", "-0.000001", "1E+2", "NaN", "Infinity", "123456789.987654321")))
    if kind == 7:
        zone = rnd.choice((None, UTC, ZoneInfo("Asia/Kolkata"), datetime.timezone(datetime.timedelta(hours=-7))))
        return datetime.datetime(2024, rnd.randint(1, 12), 3, 4, 5, 6, rnd.choice((0, 123456)), tzinfo=zone)
    if kind == 8:
        return rnd.choice(
            (datetime.date(2024, 2, 29), datetime.time(23, 59, 59, 1), uuid.UUID(int=rnd.getrandbits(128)))
        )
    if kind == 9:
        return rnd.choice((Text("sub"), Number(5), Real(2.5), Shade.DARK, Level.HIGH, Pair(1, "x"), b"bytes"))
    return rnd.choice(("", 0, 1.0, "id"))


def random_key(rnd: random.Random) -> t.Any:
    if rnd.random() < 0.95:
        return random_string(rnd)
    return rnd.choice((1, -(2**70), 2.5, 1e-05, True, False, None, decimal.Decimal("3.3"), Text("t")))


def random_value(rnd: random.Random, depth: int = 0) -> t.Any:
    roll = rnd.random()
    if depth >= 5 or roll < 0.5:
        return random_scalar(rnd)
    size = rnd.choice((0, 1, 2, 5, 12))
    if roll < 0.75:
        return {random_key(rnd): random_value(rnd, depth + 1) for _ in range(size)}
    if roll < 0.95:
        return [random_value(rnd, depth + 1) for _ in range(size)]
    return tuple(random_value(rnd, depth + 1) for _ in range(size))


@pytest.mark.parametrize("seed", range(8))
def test_random_values_are_the_sdks_bytes(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(1_500):
        same(random_value(rnd))


@pytest.mark.parametrize("seed", range(4))
def test_random_records_are_the_sdks_bytes_by_orjson(seed: int, fallback: Spy) -> None:
    """Record-shaped values of JSON types, any character in their strings: orjson writes every one of them."""
    rnd = random.Random(seed)

    def text() -> str:
        return random_string(rnd, adversarial=False)

    mistaken = 0
    for _ in range(2_000):
        record: dict[str, t.Any] = {}
        for _ in range(rnd.randint(1, 20)):
            record[text()] = rnd.choice(
                (
                    text(),
                    rnd.randint(-(2**63), 2**64 - 1),
                    rnd.uniform(-1e3, 1e3),
                    None,
                    True,
                    [text() for _ in range(3)],
                    {"nested": text(), "at": datetime.datetime(2024, 1, 2, tzinfo=UTC)},
                )
            )
        message = {"type": "RECORD", "stream": "issues", "record": record}
        same(message)
        encoded = orjson.dumps(message, default=singer_output._orjson_default)
        mistaken += bool(
            singer_output._NEGATIVE_EXPONENT(encoded)  # a string the float guard takes for a float ("0e-0")
            or singer_output._SMALL_PLAIN(encoded)
            or (
                (not encoded.isascii() or b"\x7f" in encoded)
                and (b"\\x" in encoded or b"\\U" in encoded)  # a backslash, then x or U
            )
        )
    assert fallback.calls == 2_000 + mistaken  # `same`'s references, and those few
    assert mistaken < 40
