"""`stratlog keys`: make the CURVE key pairs a sink reachable from other hosts needs.

One pair for the sink (its public key goes to every rank and viewer), one per client group
(ranks, viewers) whose public key goes into the sink's --curve-clients folder.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from stratlog.protocol.curve import create_key_pair


def add_keys_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="+", metavar="NAME",
                        help="One key pair per name: DIR/NAME.key (public, hand it out) and DIR/NAME.key_secret "
                             "(the pair, mode 0600, stays with its owner), e.g. `sink ranks viewer`.")
    parser.add_argument("--dir", type=Path, default=Path("keys"), help="Folder for the key files (default: ./keys).")
    parser.add_argument("--authorize", type=Path, default=None, metavar="CLIENTS_DIR",
                        help="Also copy each new public key into this folder: the sink's --curve-clients.")


def run_keys(args: argparse.Namespace) -> int:
    for name in args.names:
        public, secret = create_key_pair(args.dir, name)
        print(f"{name}: public key {public}, secret key {secret}")
        if args.authorize is not None:
            args.authorize.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(public, args.authorize / public.name)
            print(f"{name}: authorised in {args.authorize}")
    return 0
