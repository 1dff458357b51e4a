"""A real ``git daemon`` on 127.0.0.1 serving the GitOps remote, with the bare repo kept in the work dir."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from onboarding.bootstrap import BootstrapOptions, bootstrap_files

BRANCH = "main"
CLUSTER = "production"
# Pushes enabled, no force-push; protocol-v2 object filters (partial fetch), as GitHub and GitLab serve them.
SERVER_CONFIG = (
    ("daemon.receivepack", "true"),
    ("receive.denyNonFastForwards", "true"),
    ("uploadpack.allowFilter", "true"),
)

_ACCESS_HOOK = """#!/bin/sh
# git daemon --access-hook: runs before each service with: service path host canonical-host ip port.
# When armed (by the test API "move_branch_before_next_push"), another writer commits to the branch
# right before a push is served, so that push finds the branch moved, exactly as in a real race.
[ "$1" = "receive-pack" ] || exit 0
marker="{base}/move-branch-once"
[ -f "$marker" ] || exit 0
rm -f "$marker"
export GIT_DIR="{repo}"
export GIT_AUTHOR_NAME="Another writer" GIT_AUTHOR_EMAIL="other@example.com"
export GIT_COMMITTER_NAME="Another writer" GIT_COMMITTER_EMAIL="other@example.com"
head=$(git rev-parse refs/heads/{branch})
blob=$(date +%s%N | git hash-object -w --stdin)
tree=$( (git ls-tree "$head"; printf '100644 blob %s\\tconcurrent-%s.txt\\n' "$blob" "$(date +%s%N)") | git mktree)
commit=$(git commit-tree "$tree" -p "$head" -m "Concurrent change by another writer")
git update-ref refs/heads/{branch} "$commit" "$head"
echo "$commit" >> "{base}/moved-by-hook.log"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PORT_ATTEMPTS = 3  # a free port can be taken before the server binds it (another connection's local port)


def listening(proc: subprocess.Popen[bytes], port: int, seconds: float) -> bool:
    """Whether ``proc`` listens on ``port`` within ``seconds``: False as soon as it exits (it could not bind)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def serve_on_port(
    spawn: Callable[[int], subprocess.Popen[bytes]], fixed: int, seconds: float
) -> tuple[subprocess.Popen[bytes] | None, int]:
    """``spawn(port)`` a server on ``fixed`` or, when 0, on a free port, chosen again (PORT_ATTEMPTS in all) when
    the server exits before it listens. Returns the server listening (None: none did) and the port last tried."""
    port = fixed
    for _ in range(1 if fixed else PORT_ATTEMPTS):
        port = fixed or free_port()
        proc = spawn(port)
        if listening(proc, port, seconds):
            return proc, port
        proc.terminate()
        proc.wait(timeout=10)
    return None, port


# Placeholders until the stack hands GitServer its real values: the local release registry serves the
# charts under oci://<host>/charts, and the receiver is the stack's Flux receiver.
LOCAL_CHART_REGISTRY = "oci://127.0.0.1:5000/charts"
LOCAL_RECEIVER_URL = "http://127.0.0.1/flux"


def seed_files(chart_registry: str = LOCAL_CHART_REGISTRY, receiver_url: str = LOCAL_RECEIVER_URL) -> dict[str, str]:
    """The GitOps repository's starting content, path -> text: what `tenant-onboarding gitops-bootstrap` writes."""
    options = BootstrapOptions(cluster=CLUSTER, chart_registry=chart_registry, receiver_url=receiver_url)
    return bootstrap_files(options)


def seed_source_problem(source: Path) -> str | None:
    """Why ``source`` cannot seed the GitOps remote (None when it can): it must be a git repository with a
    branch ``main``."""
    found = subprocess.run(
        ["git", "-C", str(source), "rev-parse", "--verify", "--quiet", f"refs/heads/{BRANCH}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if found.returncode != 0:
        return f"{source} is not a git repository with a branch {BRANCH}"
    return None


class GitServer:
    def __init__(self, workdir: Path, seed_from: Path | None = None) -> None:
        """``seed_from``: a git repository whose branch main (files and history) the remote starts from."""
        self.base = workdir / "git"
        self.repo = self.base / "gitops.git"
        self.port = 0
        self.seed_from = seed_from
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"git://127.0.0.1:{self.port}/gitops.git"

    def start(self) -> GitServer:
        if shutil.which("git") is None:
            raise RuntimeError("git is not installed (make installs it: apt-get install git)")
        self.base.mkdir(parents=True, exist_ok=True)
        if not self.repo.exists():
            subprocess.run(["git", "init", "-q", "--bare", "-b", BRANCH, str(self.repo)], check=True)
            if self.seed_from is not None:
                self._seed_from(self.seed_from)
            else:
                self._seed()
        for key, value in SERVER_CONFIG:  # on every start: a work dir kept from an older stack gets them too
            subprocess.run(["git", "-C", str(self.repo), "config", key, value], check=True)
        hook = self.base / "access-hook.sh"
        hook.write_text(_ACCESS_HOOK.format(base=self.base, repo=self.repo, branch=BRANCH))
        hook.chmod(0o755)

        def spawn(port: int) -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [
                    "git",
                    "daemon",
                    f"--base-path={self.base}",
                    "--export-all",
                    "--enable=receive-pack",
                    "--reuseaddr",
                    "--max-connections=0",  # no cap (git's default is 32): as many concurrent writers as come
                    "--listen=127.0.0.1",
                    f"--port={port}",
                    f"--access-hook={hook}",
                    str(self.base),
                ],
                stdout=subprocess.DEVNULL,
                stderr=(self.base / "daemon.log").open("ab"),
            )

        # a restart keeps its port, so configured URLs stay valid
        self._proc, self.port = serve_on_port(spawn, self.port, 10)
        if self._proc is None:
            raise RuntimeError(f"git daemon did not listen on 127.0.0.1:{self.port}; see {self.base / 'daemon.log'}")
        return self

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None

    def restart(self) -> None:
        """Stop and start again on the same port, so configured URLs stay valid."""
        self.stop()
        self.start()

    def move_branch_before_next_push(self) -> None:
        (self.base / "move-branch-once").touch()

    def _seed(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            subprocess.run(["git", "init", "-q", "-b", BRANCH, str(work)], check=True)
            for path, text in seed_files().items():
                target = work / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(text.encode("utf-8"))
            env = ["-c", "user.name=Tenant Onboarding", "-c", "user.email=onboarding@noreply.local"]
            subprocess.run(["git", "-C", str(work), "add", "-A"], check=True)
            subprocess.run(["git", *env, "-C", str(work), "commit", "-qm", "Seed GitOps repository"], check=True)
            subprocess.run(["git", "-C", str(work), "push", "-q", str(self.repo), BRANCH], check=True)

    def commit_files(
        self, files: Mapping[str, bytes | None], message: str, committer: str = "Another writer <other@example.com>"
    ) -> str:
        """Commit ``files`` (None deletes) on the branch as another writer would, in one git fast-import:
        how tests and benchmarks fill the repository with thousands of tenants quickly."""
        stream = [f"commit refs/heads/{BRANCH}", f"committer {committer} {int(time.time())} +0000"]
        stream += [f"data {len(message.encode())}", message, f"from refs/heads/{BRANCH}^0"]
        body = "\n".join(stream).encode() + b"\n"
        for path, content in files.items():
            if content is None:
                body += f"D {path}\n".encode()
            else:
                body += f"M 100644 inline {path}\ndata {len(content)}\n".encode() + content + b"\n"
        subprocess.run(["git", "-C", str(self.repo), "fast-import", "--quiet"], input=body, check=True)
        return self.head()

    def _seed_from(self, source: Path) -> None:
        """Start from ``source``'s branch main, its files and history as they are; the local stack's bootstrap
        files that it lacks (by path) are added in one commit on top, and none of its own is changed."""
        problem = seed_source_problem(source)
        if problem is not None:
            raise RuntimeError(problem)
        refspec = f"refs/heads/{BRANCH}:refs/heads/{BRANCH}"
        subprocess.run(["git", "-C", str(self.repo), "fetch", "-q", "--no-tags", str(source.resolve()), refspec],
                       check=True)  # fmt: skip
        present = set(self.files())
        missing = {path: text.encode("utf-8") for path, text in seed_files().items() if path not in present}
        if missing:
            self.commit_files(
                missing, "Add the local stack's GitOps bootstrap files", "Tenant Onboarding <onboarding@noreply.local>"
            )

    # ------------------------------------------------------------------ inspection
    def git(self, *args: str) -> str:
        return subprocess.run(["git", "-C", str(self.repo), *args], check=True, capture_output=True, text=True).stdout

    def head(self) -> str:
        return self.git("rev-parse", f"refs/heads/{BRANCH}").strip()

    def read(self, path: str) -> str | None:
        try:
            return self.git("show", f"{BRANCH}:{path}")
        except subprocess.CalledProcessError:
            return None

    def files(self) -> list[str]:
        return self.git("ls-tree", "-r", "--name-only", BRANCH).split()

    def log(self) -> list[str]:
        return self.git("log", "--format=%s", BRANCH).splitlines()
