"""The write token never leaves HfApi's Authorization header.

A whole user flow runs with a recognisable fake token in HF_TOKEN: a short training run (the trainer sees
the environment too), export, publish with the dataset, and a demo Space for the private model with a
separate read token. Then every file under the data home (datasets, run folders, logs, cards, Trackio,
caches), the temp and HF home folders, the commands' output, and everything the Hub server received
except the Authorization header are searched: the token appears nowhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hubserver import HubServer, Token
from support_runs import finished_runs, runs_home  # noqa: F401 - fixtures

from voxstudio.runs import runfolder
from voxstudio.training.config import new_config

ROOT = Path(__file__).resolve().parent.parent
SECRET = "hf_SECRETtoken0123456789abcdef"
READ_SECRET = "hf_READONLYtoken0123456789abcdef"
NEEDLES = (SECRET.encode(), b"SECRETtoken0123456789")

pytestmark = pytest.mark.slow  # trains tiny runs (once per session) and runs subprocesses


def grep_tree(folder: Path) -> list[str]:
    hits = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink() and any(n in path.read_bytes() for n in NEEDLES):
            hits.append(str(path))
    return hits


def test_the_search_would_find_a_leak(tmp_path):
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "deep" / "er" / "log.txt").write_bytes(b"...Bearer " + SECRET.encode() + b"\n")
    assert grep_tree(tmp_path) == [str(tmp_path / "deep" / "er" / "log.txt")]


def test_token_appears_nowhere(runs_home, tmp_path):  # noqa: F811
    tmpdir, hf_home = tmp_path / "tmp", tmp_path / "hf-home"
    tmpdir.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(HF_TOKEN=SECRET, SPACE_READ_TOKEN=READ_SECRET, VOXSTUDIO_HOME=str(runs_home.home),
               PYTHONPATH=str(ROOT), TMPDIR=str(tmpdir), HF_HOME=str(hf_home), OMP_NUM_THREADS="2",
               VOXSTUDIO_HUB_BACKOFF_S="0.05")
    outputs = []

    def run(*argv, check=True):
        done = subprocess.run([sys.executable, *argv], capture_output=True, env=env, cwd=ROOT, timeout=600)
        outputs.append(done.stdout + done.stderr)
        assert not check or done.returncode == 0, (done.stdout + done.stderr).decode(errors="replace")
        return done

    with HubServer(tokens={SECRET: Token("alice", "write"), READ_SECRET: Token("alice", "read")}) as hub:
        env["HF_ENDPOINT"] = hub.endpoint
        # A training run that sees HF_TOKEN in its environment, like a job started from a shell with it set.
        folder = runs_home.home / "runs" / "secret-run"
        folder.mkdir()
        new_config(run_name="secret-run", dataset=runs_home.dataset, base_model="tiny", method="lora",
                   max_steps=4, eval_every=10_000).save(folder / runfolder.CONFIG)
        with open(folder / runfolder.LOG, "ab") as log:
            subprocess.run([sys.executable, "-m", "voxstudio.training.train", str(folder)], stdout=log,
                           stderr=subprocess.STDOUT, env=env, cwd=ROOT, timeout=600, check=True)
        run("-m", "voxstudio", "export", "--run", "secret-run", "--out", str(tmp_path / "export"))
        run("-m", "voxstudio", "dataset", "consent", runs_home.dataset, "--speaker", "Tess")
        run("-m", "voxstudio", "publish", "--run", "secret-run", "--repo", "secret-voice", "--licence", "mit",
            "--with-dataset", "--data-licence", "cc-by-4.0")
        run("-m", "voxstudio", "publish", "--run", "pub-lora", "--repo", "secret-merged", "--merge",
            "--licence", "apache-2.0")
        # (the merged model: no Space could load an adapter of the built-in tiny base, deploy-demo refuses it)
        run("-m", "voxstudio", "deploy-demo", "--model", "secret-merged", "--space", "secret-demo",
            "--read-token-env", "SPACE_READ_TOKEN")
        # A failure path too: the token is refused by a server that no longer knows it.
        hub.tokens.pop(SECRET)
        refused = run("-m", "voxstudio", "publish", "--run", "secret-run", "--repo", "again", "--licence", "mit",
                      check=False)
        assert refused.returncode == 1 and b"token was refused" in refused.stderr

        # The flow really happened (so the search below means something) ...
        assert "adapter_model.safetensors" in hub.files("alice/secret-voice")
        assert hub.files("alice/secret-voice-data", "dataset")
        assert "model.safetensors" in "".join(hub.files("alice/secret-merged"))
        space = hub.repo("alice/secret-demo", "space")
        assert space.variables["HF_MODEL_ID"]["value"] == "alice/secret-merged"
        # ... the write token only ever travelled in the Authorization header ...
        commits = [r for r in hub.requests if "/commit/" in r.path]
        assert len(commits) >= 4 and all(r.authorized for r in commits)
        sent = hub.sent_bytes()
        assert not any(n in sent for n in NEEDLES)
        assert all(SECRET not in str(v) for v in space.secrets.values())
        assert not any(any(n in hub.blob(oid) for n in NEEDLES)
                       for repo in hub.repos.values() for c in repo.commits for oid in c.tree.values())
        # ... and the Space holds the separate read token, never the write token.
        assert space.secrets["HF_TOKEN"]["value"] == READ_SECRET

    # Nothing on disk or printed holds it: workspace (datasets, runs, logs, cards, trackio, caches), exports,
    # temp files, the Hugging Face home, and every command's output.
    assert grep_tree(runs_home.home) == []
    assert grep_tree(tmp_path / "export") == []
    assert grep_tree(tmpdir) == [] and (not hf_home.exists() or grep_tree(hf_home) == [])
    assert (folder / runfolder.LOG).stat().st_size > 0 and (folder / "output").is_dir()
    assert not any(n in out for out in outputs for n in NEEDLES)
