#!/usr/bin/env python3
"""Generate the G.711 reference data that tandem-rtp-core's tests compare against.

Writes into rtp-core/tests/data/g711/:
  ulaw_decode.bin, alaw_decode.bin  256 little-endian i16 each: the decoded value of every code 0x00..0xFF
  ulaw_encode.bin, alaw_encode.bin  65536 bytes each: byte i is the code for the i16 sample (i - 32768)

The normative behaviour is that of the ITU-T G.191 software tools (g711.c: ulaw_compress/ulaw_expand,
alaw_compress/alaw_expand), re-stated below as a small model. That model is checked against CPython's
`audioop` (the Sun/CCITT reference code) over every input before anything is written:

  * all 256 decoded values of both laws agree exactly;
  * every A-law encoding agrees exactly;
  * µ-law encodings agree for every non-negative sample. For negative samples audioop negates in two's
    complement where G.191 takes the one's complement (~x), which shifts its decision thresholds by one
    14-bit step: audioop's code for x equals G.191's code for x - 4 (x >= -32764). Both conventions are in
    use; the G.191 one is written here because it is the ITU reference and is symmetric (-1..-4 encode to
    0x7F, which decodes to 0, as 0..3 encode to 0xFF).

Run from the repository root with Python <= 3.12 (audioop was removed in 3.13):
    python3 tools/gen_g711_reference.py
"""

import struct
import sys
import warnings
from pathlib import Path

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # noqa: E402  (deprecated since 3.11, still shipped up to 3.12)

OUT_DIR = Path(__file__).resolve().parent.parent / "rtp-core" / "tests" / "data" / "g711"
ALL_SAMPLES = range(-32768, 32768)


def g191_ulaw_compress(x: int) -> int:
    # 14-bit magnitude, one's complement for negatives, plus the 33 bias; saturate at 13 bits.
    magnitude = ((~x if x < 0 else x) >> 2) + 33
    magnitude = min(magnitude, 0x1FFF)
    segment = (magnitude >> 6).bit_length() + 1  # 1..8
    mantissa = (magnitude >> segment) & 0x0F
    code = ((8 - segment) << 4) | (0x0F - mantissa)
    return code | 0x80 if x >= 0 else code


def g191_ulaw_expand(code: int) -> int:
    inverted = ~code & 0xFF
    exponent = (inverted >> 4) & 0x07
    mantissa = inverted & 0x0F
    step = 4 << (exponent + 1)
    magnitude = (0x80 << exponent) + step * mantissa + step // 2 - 4 * 33
    return magnitude if code >= 0x80 else -magnitude


def g191_alaw_compress(x: int) -> int:
    # 12-bit magnitude, one's complement for negatives.
    magnitude = (~x if x < 0 else x) >> 4
    if magnitude > 15:
        exponent = magnitude.bit_length() - 4  # 1..7
        code = (exponent << 4) | ((magnitude >> (exponent - 1)) & 0x0F)
    else:
        code = magnitude
    if x >= 0:
        code |= 0x80
    return code ^ 0x55


def g191_alaw_expand(code: int) -> int:
    toggled = (code ^ 0x55) & 0x7F
    exponent = toggled >> 4
    mantissa = toggled & 0x0F
    if exponent > 0:
        mantissa += 16
    value = (mantissa << 4) + 8
    if exponent > 1:
        value <<= exponent - 1
    return value if code >= 0x80 else -value


def audioop_encode(fn, x: int) -> int:
    return fn(struct.pack("<h", x), 2)[0]


def audioop_decode(fn, code: int) -> int:
    return struct.unpack("<h", fn(bytes([code]), 2))[0]


def check_against_audioop() -> None:
    for code in range(256):
        assert g191_ulaw_expand(code) == audioop_decode(audioop.ulaw2lin, code), f"ulaw decode {code:#04x}"
        assert g191_alaw_expand(code) == audioop_decode(audioop.alaw2lin, code), f"alaw decode {code:#04x}"
    ulaw_negative_differences = 0
    for x in ALL_SAMPLES:
        assert g191_alaw_compress(x) == audioop_encode(audioop.lin2alaw, x), f"alaw encode {x}"
        ours = g191_ulaw_compress(x)
        theirs = audioop_encode(audioop.lin2ulaw, x)
        if x >= 0:
            assert ours == theirs, f"ulaw encode {x}"
        elif x >= -32764:
            assert theirs == g191_ulaw_compress(x - 4), f"ulaw encode {x}: two's vs one's complement"
            ulaw_negative_differences += ours != theirs
        else:
            assert ours == theirs == 0x00, f"ulaw encode {x}: negative saturation"
    print(f"audioop agrees; µ-law negative inputs where the conventions pick different codes: "
          f"{ulaw_negative_differences}")


def write(name: str, data: bytes) -> None:
    path = OUT_DIR / name
    path.write_bytes(data)
    print(f"wrote {path} ({len(data)} bytes)")


def main() -> int:
    check_against_audioop()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    write("ulaw_decode.bin", struct.pack("<256h", *(g191_ulaw_expand(c) for c in range(256))))
    write("alaw_decode.bin", struct.pack("<256h", *(g191_alaw_expand(c) for c in range(256))))
    write("ulaw_encode.bin", bytes(g191_ulaw_compress(x) for x in ALL_SAMPLES))
    write("alaw_encode.bin", bytes(g191_alaw_compress(x) for x in ALL_SAMPLES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
