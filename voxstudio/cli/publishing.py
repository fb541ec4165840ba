"""`voxstudio publish | push-dataset | export | deploy-demo`: the CLI twin of the Publish page.

The Hub token is read from ``HF_TOKEN`` only (never a flag: argv is visible to every user of the machine
and lands in shell histories). ``HF_ENDPOINT`` picks another Hub-compatible server. Model code (torch,
transformers, peft) is imported only when exporting.

Like the page, publishing asks what it must before anything is sent, and refuses with one sentence
otherwise: ``--licence`` for the model, ``--data-licence`` for the dataset (no default), and for a dataset
push the speaker's consent to publish, recorded with ``voxstudio dataset consent NAME --speaker S [--public]``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

from voxstudio.publish import licences

TOKEN_ENV = "HF_TOKEN"


def register(subparsers) -> None:
    p = subparsers.add_parser("publish", help="export a finished run and push it to the Hugging Face Hub")
    p.add_argument("--run", required=True, help="run name (see `voxstudio runs`)")
    p.add_argument("--repo", required=True, help="model repo: 'name' (under your account) or 'owner/name'")
    p.add_argument("--merge", action="store_true", help="push the LoRA merged into the base (a full model)")
    p.add_argument("--public", action="store_true", help="make a new repo public (default: private)")
    p.add_argument("--licence", "--license", dest="licence", metavar="LICENCE",
                   help=f"the model's licence, required: one of {', '.join(licences.MODEL)}")
    p.add_argument("--with-dataset", action="store_true",
                   help="also push the training dataset (needs --data-licence and the speaker's consent to publish)")
    p.add_argument("--dataset-repo", help="dataset repo name for --with-dataset (default: REPO-data)")
    p.add_argument("--data-licence", "--data-license", dest="data_licence", metavar="LICENCE",
                   help=f"the dataset's licence, required with --with-dataset: one of {', '.join(licences.DATA)}")
    p.set_defaults(func=cmd_publish)

    p = subparsers.add_parser("push-dataset", help="push a dataset (audio + card) to the Hugging Face Hub")
    p.add_argument("name", help="dataset name (see `voxstudio dataset list`)")
    p.add_argument("--repo", required=True, help="dataset repo: 'name' or 'owner/name'")
    p.add_argument("--public", action="store_true", help="make a new repo public (default: private)")
    p.add_argument("--licence", "--license", "--data-licence", dest="licence", metavar="LICENCE",
                   help=f"the dataset's licence, required: one of {', '.join(licences.DATA)}")
    p.set_defaults(func=cmd_push_dataset)

    p = subparsers.add_parser("export", help="write the folder `publish` would push (for offline/manual use)")
    p.add_argument("--run", required=True, help="run name or run folder")
    p.add_argument("--out", required=True, help="a new (or empty) folder")
    p.add_argument("--merge", action="store_true", help="merge the LoRA adapter into the base weights")
    p.add_argument("--repo", help="repo id the card's usage code should name (default: your-name/RUN)")
    p.add_argument("--licence", "--license", dest="licence", metavar="LICENCE",
                   help="the licence the card states (without one, the card says none was chosen)")
    p.set_defaults(func=cmd_export)

    if importlib.util.find_spec("voxstudio.publish.space") is not None:
        from voxstudio.publish import space

        p = subparsers.add_parser("deploy-demo", help="create a Gradio demo Space for a pushed model")
        p.add_argument("--model", required=True, help="model repo id (as pushed by `publish`)")
        p.add_argument("--space", required=True, help="Space repo: 'name' or 'owner/name'")
        p.add_argument("--hardware", default=space.DEFAULT_HARDWARE, choices=sorted(space.HARDWARE),
                       help=f"Space hardware (default {space.DEFAULT_HARDWARE})")
        p.add_argument("--base-model", help="base model id, for an adapter repo (default: from its config)")
        p.add_argument("--public", action="store_true", help="make a new Space public (default: private)")
        p.add_argument("--read-token-env", metavar="VAR",
                       help="environment variable holding a READ token for a private model (stored as the "
                            "Space's secret; your write token never is)")
        p.set_defaults(func=cmd_deploy_demo)


def _token() -> str:
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ValueError(f"Set {TOKEN_ENV} to a Hugging Face token with write access "
                         "(https://huggingface.co/settings/tokens); tokens are never taken as arguments.")
    return token


def _progress(fraction: float, text: str) -> None:
    print(f"[{fraction:4.0%}] {text}", file=sys.stderr, flush=True)


def _hub_errors(fn):
    """Hub failures print their one sentence and exit 1, like the dispatcher does for ValueError."""

    def wrapped(args) -> int:
        from voxstudio.publish.hub import HubError

        try:
            return fn(args)
        except HubError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    return wrapped


@_hub_errors
def cmd_publish(args) -> int:
    """The Publish page's steps (``release.stage`` then ``release.publish``), staged in a temporary folder.

    What is missing locally (a licence, the consent to publish) is refused before the token is even read, so
    a refusal never reaches the Hub."""
    from voxstudio.publish import export, hub, release

    licence = licences.check(args.licence, "model")
    run_dir = export.resolve_run(args.run)
    cfg = export.check_finished(run_dir)
    artifact = export.artifact_for(cfg.get("method", "lora"), args.merge)
    if args.with_dataset:
        hub.check_can_publish_dataset(release.run_dataset(run_dir.name, cfg), args.data_licence,
                                      private=not args.public)
    token = _token()
    who = hub.account(token)
    repo_id = hub.resolve_repo_id(args.repo, who=who)
    hub.check_can_write(who, repo_id)
    dataset_repo = None
    if args.with_dataset:
        dataset_repo = hub.resolve_repo_id(args.dataset_repo or f"{repo_id}-data", who=who)
        hub.check_can_write(who, dataset_repo)
    tmp = Path(tempfile.mkdtemp(prefix="voxstudio-publish-"))
    try:
        _progress(0.0, f"Exporting {artifact} of run {run_dir.name}")
        staged = release.stage(run_dir, artifact, repo_id, dataset_repo, licence=licence,
                               data_licence=args.data_licence, private=not args.public,
                               folder=tmp / "export", dataset_folder=tmp / "dataset")
        for repo, path, size in release.upload_list(staged):
            print(f"{size:>14,}  {repo}/{path}", file=sys.stderr)
        if dataset_repo:
            print(f"Pushing dataset {staged.dataset} ({len(release.recordings(staged))} recordings) to "
                  f"{dataset_repo}", file=sys.stderr)
        pushed = release.publish(staged, token, private=not args.public, progress=_progress)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if pushed["dataset"] is not None:
        print(f"dataset: {pushed['dataset'].url}")
    result = pushed["model"]
    visibility = "private" if result.private else "public"
    print(f"model: {result.url} ({visibility}, {len(result.files)} files, {artifact})")
    return 0


@_hub_errors
def cmd_push_dataset(args) -> int:
    from voxstudio.publish import hub

    hub.check_can_publish_dataset(args.name, args.licence, private=not args.public, licence_flag="--licence")
    result = hub.push_dataset(args.name, args.repo, _token(), private=not args.public, licence=args.licence,
                              progress=_progress)
    print(f"dataset: {result.url} ({'private' if result.private else 'public'}, {len(result.files)} files)")
    return 0


def cmd_export(args) -> int:
    from voxstudio.publish import export

    licence = licences.check(args.licence, "model") if args.licence else None
    folder = export.export_run(args.run, args.out, merge=args.merge, repo_id=args.repo, licence=licence)
    files = export.list_upload(folder)
    for name, size in files:
        print(f"{size:>14,}  {name}")
    print(f"{sum(size for _, size in files):>14,}  bytes in {len(files)} files: {folder}")
    return 0


@_hub_errors
def cmd_deploy_demo(args) -> int:
    from voxstudio.publish import hub, space

    token = _token()
    read_token = None
    if args.read_token_env:
        read_token = os.environ.get(args.read_token_env, "").strip()
        if not read_token:
            raise ValueError(f"--read-token-env {args.read_token_env}: that environment variable is empty.")
    who = hub.account(token)
    url = space.deploy_demo(hub.resolve_repo_id(args.model, who=who), hub.resolve_repo_id(args.space, who=who),
                            token, hardware=args.hardware, private=not args.public, base_model=args.base_model,
                            read_token=read_token, endpoint=hub.endpoint(), progress=_progress)
    print(f"space: {url}")
    return 0
