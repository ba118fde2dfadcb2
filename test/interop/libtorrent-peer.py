#!/usr/bin/python3
"""A libtorrent peer for test/interop/bittorrent.test.ts (Debian python3-libtorrent), loopback only:
no DHT, LSD, UPnP or NAT-PMP; peers come from the torrent's tracker (ours).

  download TORRENT OUTDIR TIMEOUT_S      fetch every piece, print one JSON line, exit 0 when done
  seed FILE ANNOUNCE_URL TORRENT_OUT     make a torrent of FILE (libtorrent's default: hybrid v1+v2),
                                         write it, print {"magnet", "info_hash"}, seed until stdin closes
"""
import json
import os
import sys
import threading
import time

import libtorrent as lt

SETTINGS = {
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": False,
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "enable_incoming_utp": False,
    "enable_outgoing_utp": False,
    "allow_multiple_connections_per_ip": True,
    "alert_mask": 0,
}


def session():
    return lt.session(SETTINGS)


def download(torrent, out, timeout):
    s = session()
    h = s.add_torrent({"ti": lt.torrent_info(torrent), "save_path": out})
    deadline = time.time() + float(timeout)
    while time.time() < deadline:
        st = h.status()
        if st.is_seeding:
            print(json.dumps({"ok": True, "downloaded": st.total_payload_download, "peers": st.num_peers}))
            return 0
        time.sleep(0.2)
    st = h.status()
    print(json.dumps({"ok": False, "progress": st.progress, "peers": st.num_peers, "state": str(st.state)}))
    return 1


def seed(path, announce, torrent_out):
    fs = lt.file_storage()
    lt.add_files(fs, path)
    t = lt.create_torrent(fs)
    t.add_tracker(announce)
    t.set_creator("libtorrent interop test")
    lt.set_piece_hashes(t, os.path.dirname(path))
    data = lt.bencode(t.generate())
    with open(torrent_out, "wb") as f:
        f.write(data)
    ti = lt.torrent_info(torrent_out)
    s = session()
    h = s.add_torrent({"ti": ti, "save_path": os.path.dirname(path)})
    deadline = time.time() + 30
    while not h.status().is_seeding and time.time() < deadline:
        time.sleep(0.1)
    ih = str(ti.info_hashes().v1)
    print(json.dumps({"magnet": lt.make_magnet_uri(ti), "info_hash": ih, "seeding": h.status().is_seeding}), flush=True)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    while not done.is_set():
        time.sleep(0.2)
    return 0


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "download":
        sys.exit(download(*sys.argv[2:5]))
    if mode == "seed":
        sys.exit(seed(*sys.argv[2:5]))
    sys.exit(2)
