#!/bin/sh
# Makes DejaVuSans-subset.ttf: DejaVu Sans cut down to the characters plot labels use (ASCII,
# Latin-1, dashes, minus, ellipsis), 31 KB instead of 760 KB. Needs fonttools (pip install
# fonttools; 4.69.1 was used) and the Debian package fonts-dejavu-core (2.37-6 was used).
set -e
pyftsubset /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf \
  --unicodes="U+0020-007E,U+00A0-00FF,U+2013,U+2014,U+2212,U+2026" \
  --layout-features='kern' --no-hinting --desubroutinize \
  --output-file="$(dirname "$0")/DejaVuSans-subset.ttf"
