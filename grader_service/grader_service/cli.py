"""``dl-grader``: serve the service, create a signing key, verify a stamp offline."""

import argparse
import json
import logging
import os
import sys


def cmd_serve(args):
    from waitress import serve

    from .app import create_app
    from .worker import get_workers

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app()
    workers = get_workers(app)
    workers.start()
    try:
        serve(app, host=args.host, port=args.port, threads=args.threads)
    finally:
        workers.stop(timeout=5)
    return 0


def cmd_keygen(args):
    from .stamp import load_or_create_key, public_key_pem

    if os.path.exists(args.key_file):
        print(f"{args.key_file} exists; not overwriting", file=sys.stderr)
        return 1
    pem = public_key_pem(load_or_create_key(args.key_file))
    if args.public_key:
        with open(args.public_key, "wb") as fh:
            fh.write(pem)
    else:
        sys.stdout.write(pem.decode())
    return 0


def cmd_verify(args):
    from .stamp import explain_stamp

    with open(args.stamp, "rb") as fh:
        stamp = fh.read()
    with open(args.public_key, "rb") as fh:
        key = fh.read()
    problem = explain_stamp(stamp, key)
    if problem:
        print(f"INVALID: {problem}", file=sys.stderr)
        return 1
    record = json.loads(stamp)["record"]
    print(f"OK: {record.get('username')} ({record.get('roll_number')}) "
          f"{record.get('course')}/{record.get('assignment')} "
          f"score {record.get('score')}/{record.get('max_score')}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="dl-grader", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP service and grading workers")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=5000)
    serve.add_argument("--threads", type=int, default=8, help="HTTP threads")
    serve.set_defaults(func=cmd_serve)

    keygen = sub.add_parser("keygen", help="create an Ed25519 signing key (PEM, mode 0600)")
    keygen.add_argument("key_file")
    keygen.add_argument("--public-key", help="also write the public key here (default: stdout)")
    keygen.set_defaults(func=cmd_keygen)

    verify = sub.add_parser("verify", help="check a stamp's signature offline")
    verify.add_argument("stamp", help="stamp JSON file")
    verify.add_argument("--public-key", required=True, help="PEM from GET /api/public-key")
    verify.set_defaults(func=cmd_verify)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
