#!/bin/sh
# The HTML incident report of outguard-trace in a real browser: headless
# Chromium renders the report of a fixture key (t/trace/) to a screenshot,
# which must be a PNG that is not blank and shows the chart's colours, and
# dumps the DOM, which must hold the chart's SVG, the timeline table with a
# row per record, and the hostile subject as text.  The screenshot is kept
# as t/trace-report.png under the build directory for a person to look at.
. "${top_srcdir:?top_srcdir must be set (make check sets it)}/t/lib.sh"

trace=$top_builddir/outguard-trace
fx=$top_srcdir/t/trace
[ -x "$trace" ] || og_skip "$trace is not built"
chromium=${CHROMIUM:-chromium}
og_need_cmd "$chromium" chromium
py=${PYTHON3:-$(command -v python3)}
[ -n "$py" ] || og_skip "python3 not installed (apt-get install python3)"

tmp=$(og_tmpdir trace-browser)
trap 'rm -rf "$tmp"' EXIT
shot=$top_builddir/t/trace-report.png

"$trace" report sasl:alice@example.com -o "$tmp/report.html" \
	"$fx/evidence.jsonl" "$fx/evidence.jsonl.1" "$fx/evidence.jsonl.2.gz" 2>"$tmp/trace.err" ||
	og_error "outguard-trace report failed: $(cat "$tmp/trace.err")"

# Debian 12's chromium; no network, no profile of the user's, nothing in the background
browse()
{
	timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$tmp/profile" "$@" "file://$tmp/report.html"
}

rm -f "$shot"
browse --screenshot="$tmp/report.png" --window-size=1280,2000 >"$tmp/chromium.log" 2>&1
og_check "chromium wrote a screenshot" test -s "$tmp/report.png" ||
	og_diag "$(tail -n 20 "$tmp/chromium.log")"
cp "$tmp/report.png" "$shot" 2>/dev/null

# PNG magic, size, and the pixels: unfiltered by hand (no PIL needed)
cat >"$tmp/png.py" <<'EOF'
import struct, sys, zlib

data = open(sys.argv[1], "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit("not a PNG: no magic bytes")
pos, idat, ihdr = 8, b"", None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        ihdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
w, h, depth, ctype, _, _, interlace = ihdr
if depth != 8 or ctype not in (2, 6) or interlace:
    sys.exit("unexpected PNG format: depth %d, colour type %d" % (depth, ctype))
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(idat), w * bpp
prev, colours, inked = bytearray(stride), {}, 0
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp * 2):
        px = bytes(line[x:x + 3])
        colours[px] = colours.get(px, 0) + 1
        inked += px != b"\xff\xff\xff"
    prev = line
print("%dx%d %d colours %d inked" % (w, h, len(colours), inked))
for name, rgb in (("held", b"\xf0\xad\x4e"), ("left", b"\xd9\x53\x4f")):
    print("%s %d" % (name, colours.get(rgb, 0)))
EOF
if [ -s "$tmp/report.png" ]; then
	size=$(wc -c <"$tmp/report.png")
	og_check "the screenshot is more than a blank page ($size bytes)" test "$size" -gt 20000
	if "$py" "$tmp/png.py" "$tmp/report.png" >"$tmp/png.out" 2>&1; then
		og_ok "the screenshot is a PNG ($(head -n 1 "$tmp/png.out"))"
		colours=$(head -n 1 "$tmp/png.out" | awk '{ print $2 }')
		inked=$(head -n 1 "$tmp/png.out" | awk '{ print $4 }')
		og_check "the screenshot has many colours ($colours)" test "$colours" -gt 10
		og_check "the screenshot is not mostly white ($inked inked pixels sampled)" test "$inked" -gt 20000
		og_check "the chart's colours are on the page (held, left the server)" \
			sh -c "awk '/^(held|left) / && \$2 > 20 { n++ } END { exit n != 2 }' '$tmp/png.out'"
	else
		og_not_ok "the screenshot is a PNG"
		og_diag "$(cat "$tmp/png.out")"
	fi
fi

# the DOM as the browser built it
browse --dump-dom >"$tmp/dom.html" 2>"$tmp/chromium-dom.log"
og_check "the DOM holds the chart" grep -q '<svg id="chart"' "$tmp/dom.html"
og_check "the chart has bars and a line" \
	sh -c "sed -n '/<svg id=\"chart\"/,/<\/svg>/p' '$tmp/dom.html' | grep -q '<rect' &&
	       sed -n '/<svg id=\"chart\"/,/<\/svg>/p' '$tmp/dom.html' | grep -q '<polyline'"
rows=$(sed -n '/<table id="timeline">/,/<\/table>/p' "$tmp/dom.html" | sed 's/<tr/\n<tr/g' |
	sed -n '/<tbody>/,$p' | grep -c '^<tr')
og_check "the timeline table has a row per record ($rows, want 19)" test "$rows" = 19
og_check "the hostile subject is text, not an element" \
	grep -q -F '&lt;script&gt;alert("owned")&lt;/script&gt;' "$tmp/dom.html"
og_check "no script element in the DOM" sh -c "! grep -q -i '<script' '$tmp/dom.html'"
og_diag "screenshot: $shot"
og_done
