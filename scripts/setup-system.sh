#!/usr/bin/env bash
# Installs the system tools the tests use, only those missing, with one `apt-get update`.
# Called by `npm test`; safe to run again. Needs root (or sudo) on Debian/Ubuntu.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have nginx   || need+=(nginx)
have openssl || need+=(openssl)
have curl    || need+=(curl)
have aria2c  || need+=(aria2)     # npm run bench -- download: the aria2c reference; BitTorrent interop
# BitTorrent interop tests (test/interop/bittorrent.test.ts): libtorrent's Python binding.
/usr/bin/python3 -c 'import libtorrent' >/dev/null 2>&1 || need+=(python3-libtorrent)
have sha256sum || need+=(coreutils)
have zstd    || need+=(zstd)      # npm run bench -- delta: the zstd -19 and --patch-from references
have bsdiff  || need+=(bsdiff)    # release publish --delta-from (bsdiff candidate) and the delta bench
have bzip2   || need+=(bzip2)     # release publish --delta-from: unpacks bsdiff's blocks to re-frame them as zstd
[ -x /usr/bin/time ] || need+=(time)   # npm run bench -- delta: peak memory of each step
/usr/bin/python3 -c 'import securesystemslib.signer' 2>/dev/null || need+=(in-toto)  # test/interop/intoto-dsse
have faketime || need+=(faketime)  # test/cli/reproducible: a build under another user-visible time
have git     || need+=(git)       # release build records the source commit
have systemd-analyze || need+=(systemd)   # contrib/systemd unit check
have ipfs_cid || need+=(ipfs-cid)   # test/sources/ipfs: an independent check of our IPFS CIDs
have promtool || need+=(prometheus)      # promtool check metrics (test/metrics)
have chromium || need+=(chromium)        # headless dashboard test and screenshot
# Not installed here: fdroidserver, aapt, zipalign, android-framework-res (~1 GB with Java). No test
# needs them (test/sources/fdroid uses a committed fixture); only `npm run bench -- channels` does
# for its fdroid row, which fails and prints the apt-get line when they are missing.
# test/cli/engines.test.ts runs the bins under a Node older than package.json's engines: the
# distribution's nodejs (any version below 24), beside the pinned Node 24 of node_modules.
[ -x /usr/bin/node ] || need+=(nodejs)
if [ ${#need[@]} -eq 0 ]; then
  echo "setup-system: all test tools present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if have sudo; then SUDO="sudo"; else echo "setup-system: need root to install: ${need[*]}" >&2; exit 1; fi
fi
echo "setup-system: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "setup-system: done"
