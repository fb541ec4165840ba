"""`voxstudio dataset ...`: import, take, stats, export, consent and list datasets (the same functions as the studio
pages; ``consent`` records the speaker's consent to publish the recordings, like the Publish page's box).

``import`` first says which layout it detected and how many rows it saw, prints one line per refused item on
stderr and fails (exit 1) only when nothing was imported, so a script can import a large folder with a few bad
files. ``--json`` prints exactly one JSON object on stdout (with ``layout`` and ``rows``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from voxstudio import workspace
from voxstudio.data import consent, exporters, importers, integrity
from voxstudio.data.dataset import Dataset, list_datasets

EXPORTERS = {"jsonl": exporters.export_jsonl, "audiofolder": exporters.export_audiofolder,
             "nemo": exporters.export_nemo}


def register(subparsers) -> None:
    group = subparsers.add_parser("dataset", help="import, inspect, export and list datasets")
    sub = group.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)

    p = sub.add_parser("import", help="import clips (JSONL/NeMo/CSV manifests, AudioFolder, Common Voice, LJ Speech, "
                       "Kaldi, audio + .txt, Hugging Face datasets, zips of any of these)")
    p.add_argument("source", help="a manifest, a folder, a zip, a HF dataset folder or hub id")
    p.add_argument("--format", choices=list(importers.FORMATS), metavar="LAYOUT",
                   help="read the source as this layout instead of detecting it: "
                   + "; ".join(f"{k} = {v}" for k, v in importers.FORMATS.items()))
    p.add_argument("--name", required=True, help="dataset to import into (created when missing)")
    p.add_argument("--language", help="language code for items that do not name one (e.g. en)")
    p.add_argument("--speaker", help="speaker for items that do not name one (default: the dataset's first speaker)")
    p.add_argument("--column", action="append", default=[], metavar="FIELD=COLUMN",
                   help="map audio/text/language/speaker to a source column (repeatable)")
    p.add_argument("--split", help="the part to import: a Hugging Face split (default: all local splits / train), a "
                   "Common Voice table (default validated, else train), or the manifest named after it")
    p.add_argument("--limit", type=int, help="read at most this many source items")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("take", help="save an audio file as the take of one phrase, like the Record page "
                       "(the phrase's earlier takes go to the trash)")
    p.add_argument("name")
    p.add_argument("phrase_id", help="a phrase of the dataset's phrase list")
    p.add_argument("audio", help="the audio file of the phrase read aloud")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_take)

    p = sub.add_parser("stats", help="clips, minutes, languages, speakers and flags of a dataset")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("export", help="write a dataset as a seed JSONL manifest, an AudioFolder or a NeMo manifest "
                       "(with dataset.json: consent, licence)")
    p.add_argument("name")
    p.add_argument("--format", choices=sorted(EXPORTERS), required=True)
    p.add_argument("--paths", choices=("relative", "absolute"), default="relative",
                   help="nemo: audio_filepath relative to the manifest (default) or absolute")
    p.add_argument("--out", required=True, help="a new or empty folder")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("check", help="find what kills or a full disk left (orphan audio, rows without audio, temp "
                       "files, duplicate rows, trash entries without audio); --repair fixes them")
    p.add_argument("name")
    p.add_argument("--repair", action="store_true", help="fix every problem found")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("consent", help="record the speaker's consent to PUBLISH the recordings on the Hub "
                       "(needed by `publish --with-dataset` and `push-dataset`)")
    p.add_argument("name")
    p.add_argument("--speaker", help="the speaker giving the consent (the person whose voice it is)")
    p.add_argument("--public", action="store_true",
                   help="consent to a public repository (default: a private one only)")
    p.add_argument("--withdraw", action="store_true", help="withdraw the consent to publish instead")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_consent)

    p = sub.add_parser("list", help="datasets in the data home")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_list)


def _columns(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or field not in ("audio", "text", "language", "speaker") or not column:
            raise ValueError(f"--column {pair!r}: use FIELD=COLUMN with FIELD one of audio, text, language, speaker.")
        out[field] = column
    return out


def cmd_import(args: argparse.Namespace) -> int:
    workspace.check_slug(args.name, "Dataset name")
    if args.limit is not None and args.limit < 1:
        raise ValueError("--limit must be at least 1.")
    columns = _columns(args.column)
    created = args.name not in list_datasets()
    ds = (Dataset.create(args.name, languages=[args.language] if args.language else [],
                         speaker=args.speaker or "") if created else Dataset.open(args.name))
    try:
        with importers.open_source(args.source, format=args.format, columns=columns, split=args.split) as plan:
            if not args.json:
                print(f"detected: {plan.describe()}", flush=True)
                for note in plan.notes:
                    print(f"  {note}", flush=True)
            report = importers.ingest(ds, plan, language=args.language, speaker=args.speaker, limit=args.limit)
    finally:
        if created and not ds.clips():  # a failed import into a new dataset leaves no empty dataset behind
            shutil.rmtree(ds.path, ignore_errors=True)
    for item, reason in report.refused:
        print(f"refused {item}: {reason}", file=sys.stderr)
    for item, notice in report.notices:
        print(f"note {item}: {notice}", file=sys.stderr)
    if report.stopped:
        print("import stopped: the disk is full (see above); the clips listed as imported are saved", file=sys.stderr)
    if args.json:
        print(json.dumps({"dataset": args.name, "created": created and bool(report.imported),
                          **report.to_dict()}, ensure_ascii=False))
    else:
        print(f"imported {len(report.imported)} clip(s) into '{args.name}', refused {len(report.refused)}")
    return 0 if report.imported else 1


def cmd_take(args: argparse.Namespace) -> int:
    ds = Dataset.open(args.name)
    phrase = next((p for p in ds.phrases() if p.get("phrase_id") == args.phrase_id), None)
    if phrase is None:
        raise ValueError(f"Dataset '{args.name}' has no phrase '{args.phrase_id}' in its phrase list.")
    clip, replaced = ds.add_take(Path(args.audio), phrase, name=Path(args.audio).name)
    if args.json:
        print(json.dumps({"dataset": args.name, "clip_id": clip.clip_id, "phrase_id": clip.phrase_id,
                          "duration_s": clip.duration_s, "flags": clip.flag_codes, "replaced": replaced},
                         ensure_ascii=False))
    else:
        print(f"saved take {clip.clip_id} of phrase {clip.phrase_id} ({clip.duration_s:.1f} s)"
              + (f", replaced {', '.join(replaced)} (in the trash)" if replaced else ""))
        for line in clip.flags:
            print(f"  check: {line.get('message', '')} {line.get('suggestion', '')}".rstrip())
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    stats = Dataset.open(args.name).stats()
    if args.json:
        print(json.dumps(stats, ensure_ascii=False))
        return 0
    print(f"{stats['name']}: {stats['clips']} clip(s), {stats['minutes']:.2f} min, {stats['flagged']} flagged")
    for key in ("languages", "speakers"):
        for value, slot in sorted(stats[key].items()):
            print(f"  {key[:-1]} {value or '(none)'}: {slot['clips']} clip(s), {slot['minutes']:.2f} min")
    for code, count in sorted(stats["flags"].items()):
        print(f"  flag {code}: {count}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    ds = Dataset.open(args.name)
    if args.format == "nemo":
        path = exporters.export_nemo(ds, args.out, absolute=args.paths == "absolute")
    else:
        path = EXPORTERS[args.format](ds, args.out)
    count = len(ds.clips())
    if args.json:
        print(json.dumps({"dataset": args.name, "format": args.format, "path": str(path), "clips": count}))
    else:
        print(f"exported {count} clip(s) of '{args.name}' to {path}")
    return 0


def cmd_consent(args: argparse.Namespace) -> int:
    ds = Dataset.open(args.name)
    if args.withdraw:
        ds.update_info(**{consent.KEY: {}})
        record = None
    elif not (args.speaker or "").strip():
        raise ValueError("Name the speaker who consents with --speaker (the person whose voice it is).")
    else:
        record = ds.consent_to_publish(args.speaker, public=args.public)
    if args.json:
        print(json.dumps({"dataset": args.name, consent.KEY: record}, ensure_ascii=False))
    elif record is None:
        print(f"withdrew the consent to publish '{args.name}': its recordings will not be pushed")
    else:
        print(f"recorded in '{args.name}' ({record['given_at']}): {record['statement']}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    rows = []
    for name in list_datasets():
        stats = Dataset.open(name).stats()
        rows.append({"name": name, "clips": stats["clips"], "minutes": stats["minutes"]})
    if args.json:
        print(json.dumps({"home": str(workspace.home()), "datasets": rows}, ensure_ascii=False))
    elif not rows:
        print(f"no datasets in {workspace.datasets_dir()}")
    else:
        for row in rows:
            print(f"{row['name']}\t{row['clips']} clip(s)\t{row['minutes']:.2f} min")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Exit 0 when the dataset is sound (or was repaired), 1 when problems remain."""
    report = integrity.check(Dataset.open(args.name), repair=args.repair)
    if args.json:
        print(json.dumps({"dataset": args.name, **report.to_dict()}, ensure_ascii=False))
    else:
        for line in integrity.describe(report):
            print(line)
        print(f"'{args.name}': " + ("no problems" if not report.problems else
                                     f"{len(report.problems)} problem(s), {len(report.repaired)} repaired"))
    return 0 if report.ok else 1
