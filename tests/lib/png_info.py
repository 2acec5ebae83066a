# png_info.py FILE: prints "WIDTHxHEIGHT MEAN_LUMA" (0-255, of the top 16 rows) of an 8-bit
# RGB(A) PNG, decoded with zlib alone (tests/suites/site_browser.sh; no imaging library here).
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
if d[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit(1)
pos, idat, w, h, depth, color = 8, b"", 0, 0, 0, 0
while pos + 8 <= len(d):
    n, kind = struct.unpack(">I4s", d[pos:pos + 8])
    body = d[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, color = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
if not w or depth != 8 or color not in (2, 6):
    sys.exit(1)
bpp = 3 if color == 2 else 4
stride = w * bpp
# Only the top rows: a row unfilters from the one above, so the first rows need no others.
rows = min(h, 16)
raw = zlib.decompressobj().decompress(idat, rows * (stride + 1))
prev, total, count, i = bytearray(stride), 0, 0, 0
for y in range(rows):
    f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b, c = prev[x], (prev[x - bpp] if x >= bpp else 0)
        if f == 1:
            line[x] = (line[x] + a) & 255
        elif f == 2:
            line[x] = (line[x] + b) & 255
        elif f == 3:
            line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        total += (line[x] * 299 + line[x + 1] * 587 + line[x + 2] * 114) // 1000
        count += 1
    prev = line
print(f"{w}x{h} {total // max(count, 1)}")
