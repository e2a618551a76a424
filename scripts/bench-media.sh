#!/usr/bin/env bash
# tandem media beside rtpengine (issue 6): builds the release `tandem`, makes sure the peer harness is set up,
# then runs scripts/bench-media.py (arguments are passed on, e.g. --quick). See docs/bench-media.md.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PEERS_DIR="${PEERS_DIR:-$repo/../shared/peers/rtpengine}"
export SCRATCH="${SCRATCH:-/tmp/peer-media}"
target="${CARGO_TARGET_DIR:-$repo/target}"
if [ ! -x /usr/bin/rtpengine ] || [ ! -x "$SCRATCH/rtpgen" ]; then
    "$PEERS_DIR/setup.sh"   # installs rtpengine-daemon (needs root) and builds the generator
fi
(cd "$repo" && cargo build --release -p tandem-stack --bin tandem)
exec python3 "$repo/scripts/bench-media.py" --tandem "$target/release/tandem" "$@"
