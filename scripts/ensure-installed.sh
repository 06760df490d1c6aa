#!/bin/sh
# Run by `bun run demo` and `bun run test` before anything else (their pre-scripts), so that both work
# straight after `git clone`: installs the workspace when it is missing or older than bun.lock (a pull
# that changed the dependencies), and otherwise only compares two timestamps (about a millisecond).
# The stamp is written after a successful install; `bun install` by hand leaves it alone, which costs
# one extra, no-change install the next time.
stamp=node_modules/.warpdrive-installed
[ -f "$stamp" ] && [ "$stamp" -nt bun.lock ] && exit 0
echo "installing the workspace (bun install) first: node_modules is missing or older than bun.lock" >&2
bun install && touch "$stamp"
