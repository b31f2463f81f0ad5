"""qtk pr-check: verdicts on real git repositories, checked against real `git merge` runs in a
scratch clone; the forge mode against a recorded-style GitHub API served on 127.0.0.1."""

import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from qtk.errors import QtkError
from qtk.tools.pr_check import check_github, check_local
from qtk.tools.pr_check.git import check_git_version, parse_merge_tree

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

ENV = {**os.environ, "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "T",
       "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
       "LC_ALL": "C"}
IDENT = ["-c", "user.name=T", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main",
         "-c", "commit.gpgSign=false"]
LINES = [f"line {i}\n" for i in range(1, 13)]


@pytest.fixture(autouse=True)
def _no_user_git_config(monkeypatch):
    """qtk's own git calls and the checking `git merge` runs see the same (empty) configuration."""
    for key in ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM"):
        monkeypatch.setenv(key, ENV[key])


def git(repo, *args, ok=(0,)) -> subprocess.CompletedProcess:
    proc = subprocess.run(["git", *IDENT, "-C", str(repo), *args], capture_output=True, text=True, env=ENV)
    assert proc.returncode in ok, f"git {args}: {proc.stderr}"
    return proc


def write(repo: Path, files: dict) -> None:
    """Write/delete files (None deletes) and commit them."""
    for name, content in files.items():
        path = repo / name
        if content is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


def commit(repo: Path, message: str, files: dict | None = None) -> None:
    write(repo, files or {})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)


def edit(text_lines: list[str], i: int, new: str) -> str:
    lines = list(text_lines)
    lines[i] = new + "\n"
    return "".join(lines)


def branch(repo: Path, name: str, start: str, files: dict, rename: tuple | None = None) -> None:
    git(repo, "checkout", "-q", "-b", name, start)
    if rename:
        git(repo, "mv", *rename)
    commit(repo, name, files)


# What each branch of the scenario repository must give against main.
EXPECTED = {
    "content": "conflict", "add-add": "conflict", "modify-delete": "conflict", "rename-edit": "clean",
    "rename-edit-conflict": "conflict", "binary": "conflict", "binary-clean": "clean", "clean-edit": "clean",
    "merged": "merged", "fast-forward": "clean", "pair-a": "clean", "pair-b": "clean", "pair-c": "clean",
    "pair-file": "clean", "pair-dir": "clean", "pair-dirmv": "clean", "pair-dirnew": "clean",
}
EXPECTED_PAIRS = {("pair-a", "pair-b"), ("pair-dir", "pair-file"), ("pair-dirmv", "pair-dirnew")}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("scenario") / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    prose = [f"paragraph {i} of a file long enough for rename detection\n" for i in range(12)]
    commit(repo, "root", {"text.txt": "".join(LINES), "other.txt": "".join(LINES), "del.txt": "".join(LINES),
                          "ren.txt": "".join(prose), "img.bin": bytes(range(256)) * 4,
                          "pkg/a.py": "A = 1\n", "pkg/b.py": "B = 2\n"})
    branch(repo, "content", "main", {"text.txt": edit(LINES, 1, "branch")})
    branch(repo, "clean-edit", "main", {"text.txt": edit(LINES, 10, "far away")})
    branch(repo, "add-add", "main", {"new.txt": "from the branch\n"})
    branch(repo, "modify-delete", "main", {"del.txt": None})
    branch(repo, "rename-edit", "main", {}, rename=("ren.txt", "moved.txt"))
    branch(repo, "rename-edit-conflict", "main", {"moved2.txt": edit(prose, 5, "branch says")},
           rename=("ren.txt", "moved2.txt"))
    branch(repo, "binary", "main", {"img.bin": bytes(range(255, -1, -1)) * 4})
    branch(repo, "binary-clean", "main", {"img2.bin": b"\x00\x01\xff" * 100})
    branch(repo, "pair-a", "main", {"other.txt": edit(LINES, 2, "pair a")})
    branch(repo, "pair-b", "main", {"other.txt": edit(LINES, 2, "pair b")})
    branch(repo, "pair-c", "main", {"other.txt": edit(LINES, 9, "pair c")})
    branch(repo, "pair-file", "main", {"thing": "a file\n"})
    branch(repo, "pair-dir", "main", {"thing/inside.txt": "a directory\n"})
    branch(repo, "pair-dirmv", "main", {}, rename=("pkg", "pkg2"))
    branch(repo, "pair-dirnew", "main", {"pkg/c.py": "C = 3\n"})
    branch(repo, "merged", "main", {"merged.txt": "merged already\n"})
    git(repo, "checkout", "-q", "main")
    commit(repo, "main moves on", {"text.txt": edit(LINES, 1, "main"), "new.txt": "from main\n",
                                   "del.txt": edit(LINES, 4, "main"), "ren.txt": edit(prose, 5, "main says"),
                                   "img.bin": bytes(range(128)) * 8})
    git(repo, "merge", "-q", "--no-ff", "--no-edit", "merged")
    branch(repo, "fast-forward", "main", {"ff.txt": "ahead only\n"})
    git(repo, "checkout", "-q", "main")
    return repo


def real_merge(scratch: Path, *branches: str) -> tuple[int, set[str]]:
    """Merge `branches` one after another onto main in the scratch clone: (last exit code, conflicted paths)."""
    git(scratch, "reset", "-q", "--hard")
    git(scratch, "checkout", "-q", "--detach", "origin/main")
    rc = 0
    for b in branches:
        rc = git(scratch, "merge", "-q", "--no-edit", f"origin/{b}", ok=(0, 1)).returncode
        if rc:
            break
    # a file in a directory's way is moved aside to `path~origin_<branch>`; qtk reports `path`
    files = {re.sub(r"~(HEAD|origin_[\w.-]+)$", "", f)
             for f in git(scratch, "diff", "--name-only", "--diff-filter=U").stdout.split()}
    git(scratch, "merge", "--abort", ok=(0, 128))
    return rc, files


@pytest.fixture(scope="module")
def scratch(scenario, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scratch") / "clone"
    git(scenario.parent, "clone", "-q", str(scenario), str(path))
    return path


def test_verdicts_agree_with_git_merge(cli, scenario, scratch):
    result = cli("pr-check", "-C", scenario, "--json")
    assert result.exit_code == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["base"] == "main"
    got = {b["branch"]: b for b in report["branches"]}
    assert {name: b["status"] for name, b in got.items()} == EXPECTED
    for name, b in got.items():
        rc, files = real_merge(scratch, name)
        assert b["conflicts_with_base"] == (rc != 0), name
        assert set(b["conflict_files"]) == files, name
    assert got["content"]["conflict_kinds"] == {"text.txt": "content"}
    assert got["add-add"]["conflict_kinds"] == {"new.txt": "add/add"}
    assert got["modify-delete"]["conflict_kinds"] == {"del.txt": "modify/delete"}
    assert got["rename-edit-conflict"]["conflict_files"] == ["moved2.txt"]
    assert got["fast-forward"]["behind"] == 0 and got["fast-forward"]["ahead"] == 1
    assert got["merged"]["ahead"] == 0 and got["content"]["behind"] == 3  # main, merged, the merge


def test_pairs_agree_with_sequential_git_merges(scenario, scratch):
    report = check_local(scenario)
    reported = {(p.a, p.b): set(p.files) for p in report.pairs}
    assert set(reported) == EXPECTED_PAIRS
    clean = [b.branch for b in report.branches if b.status == "clean"]
    for i, a in enumerate(clean):  # every pair, including the ones the path filter skipped
        for b in clean[i + 1:]:
            rc, files = real_merge(scratch, a, b)
            assert ((a, b) in reported) == (rc != 0), (a, b)
            if rc:
                assert reported[(a, b)] == files
    assert report.pairs_checked < report.pairs_possible == len(clean) * (len(clean) - 1) // 2
    exhaustive = check_local(scenario, exhaustive=True)
    assert {(p.a, p.b) for p in exhaustive.pairs} == EXPECTED_PAIRS
    assert exhaustive.pairs_checked == exhaustive.pairs_possible


def test_nothing_in_the_repository_changes(cli, scenario):
    def snapshot():
        return (git(scenario, "status", "--porcelain", "--ignored").stdout, git(scenario, "rev-parse", "HEAD").stdout,
                git(scenario, "for-each-ref").stdout, (scenario / ".git" / "index").stat().st_mtime_ns)

    before = snapshot()
    assert cli("pr-check", "-C", scenario, "--json").exit_code == 1
    assert snapshot() == before


def test_selection_and_exit_codes(cli, scenario):
    clean = cli("pr-check", "-C", scenario, "--branches", "clean-edit,fast-forward,pair-a", "--json")
    assert clean.exit_code == 0, clean.stderr
    assert [b["branch"] for b in json.loads(clean.stdout)["branches"]] == ["clean-edit", "fast-forward", "pair-a"]
    pairs = cli("pr-check", "-C", scenario, "--pattern", "pair-*", "--json")
    report = json.loads(pairs.stdout)
    assert pairs.exit_code == 1 and all(b["branch"].startswith("pair-") for b in report["branches"])
    assert {(p["a"], p["b"]) for p in report["pairs"]} == EXPECTED_PAIRS
    table = cli("pr-check", "-C", scenario, "--pattern", "pair-[ab]")
    assert table.exit_code == 1 and "other.txt" in table.stdout and "pair-b" in table.stdout
    base = cli("pr-check", "-C", scenario, "--base", "content", "--branches", "main", "--json")
    assert json.loads(base.stdout)["branches"][0]["conflict_files"] == ["text.txt"]


def test_remote_default_branch_is_the_base(cli, scenario, tmp_path):
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(scenario), str(clone))
    git(clone, "branch", "-q", "local-only", "origin/clean-edit")
    result = cli("pr-check", "-C", clone, "--json")
    report = json.loads(result.stdout)
    names = {b["branch"] for b in report["branches"]}
    assert report["base"] == "origin/main"
    assert "main" not in names and "origin/main" not in names and "local-only" in names
    assert names - {"local-only"} == {f"origin/{b}" for b in EXPECTED}


@pytest.mark.parametrize("args, message", [
    (["--branches", "nope"], "no branch or commit named 'nope'"),
    (["--base", "nope"], "--base nope"),
    (["--branches", "a", "--pattern", "b"], "exclusive"),
])
def test_usage_errors_exit_2(cli, scenario, args, message):
    result = cli("pr-check", "-C", scenario, *args)
    assert result.exit_code == 2 and message in result.stderr


def test_not_a_repository_and_old_git(cli, tmp_path):
    result = cli("pr-check", "-C", tmp_path)
    assert result.exit_code == 2 and "not a git repository" in result.stderr
    with pytest.raises(QtkError, match="2.37.1 is too old.*2.38"):
        check_git_version((2, 37, 1))
    check_git_version((2, 38, 0))


def test_unrelated_history_is_reported_not_fatal(tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "root", {"a.txt": "a\n"})
    git(repo, "checkout", "-q", "--orphan", "pages")
    commit(repo, "pages", {"index.html": "<p>\n"})
    report = check_local(repo, base="main")
    assert [(b.branch, b.status, b.conflicts_with_base) for b in report.branches] == [("pages", "unrelated", False)]


def test_parse_merge_tree_messages():
    out = "t0\0e/new\0g\0\0" "2\0e/new\0d/new\0CONFLICT (directory rename suggested)\0text\0" \
          "1\0g\0CONFLICT (modify/delete)\0g deleted\0" "1\0x\0Auto-merging\0Auto-merging x\0"
    result = parse_merge_tree(out, clean=False)
    assert result.files == ["e/new", "g"]
    assert result.kinds == {"e/new": "directory rename suggested", "g": "modify/delete"}
    add_add = "t\0n\0\0" "1\0n\0CONFLICT (contents)\0CONFLICT (add/add): Merge conflict in n\n\0"
    assert parse_merge_tree(add_add, clean=False).kinds == {"n": "add/add"}
    assert parse_merge_tree("t1\0", clean=True).tree == "t1"


# ---- scale: the path filter keeps the pair stage small ----------------------------------------

def _blob(path: str, text: str) -> str:
    return f"M 100644 inline {path}\ndata {len(text.encode())}\n{text}"


def many_branches(repo: Path, n: int) -> None:
    """`n` branches off one base via fast-import (seconds, not minutes): each edits its own file,
    every 10th and 11th also a shared file, three lines apart; b021 and b041 edit the lines of
    b020 and b040, the two pairs that really conflict."""
    head = "committer T <t@example.com> 1700000000 +0000\ndata 2\nc\n"
    lines = [f"shared {i}\n" for i in range(3 * n)]
    stream = [f"commit refs/heads/main\nmark :1\n{head}"]
    stream += [_blob(f"src/f{i}.txt", f"file {i}\n") for i in range(4 * n)] + [_blob("shared.txt", "".join(lines))]
    for i in range(n):
        stream.append(f"commit refs/heads/b{i:03d}\n{head}from :1")
        stream.append(_blob(f"src/f{(7 * i) % (4 * n)}.txt", f"branch {i}\n"))
        if i % 10 in (0, 1):
            mine = list(lines)
            mine[3 * (i - 1 if i in (21, 41) else i)] = f"branch {i}\n"
            stream.append(_blob("shared.txt", "".join(mine)))
    git(repo, "init", "-q", "-b", "main")
    proc = subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input="\n".join(stream) + "\n",
                          text=True, capture_output=True, env=ENV)
    assert proc.returncode == 0, proc.stderr


def test_many_branches_finish_quickly(tmp_path):
    n = int(os.environ.get("QTK_PR_CHECK_BRANCHES", "60"))  # 200 measured by hand: see the report
    many_branches(tmp_path, n)
    report = check_local(tmp_path)  # its speed is measured in bench/, not asserted here
    assert len(report.branches) == n and all(b.status == "clean" for b in report.branches)
    assert {(p.a, p.b) for p in report.pairs} == {(f"b{i:03d}", f"b{i + 1:03d}") for i in (20, 40) if i < n - 1}
    assert report.pairs_checked < report.pairs_possible / 10


# ---- forge mode: a recorded-style GitHub API on 127.0.0.1 -------------------------------------

TOKEN = "ghp_testtoken0123456789"


class FakeGitHub(ThreadingHTTPServer):
    """Serves canned responses: `routes[(path, frozenset(query))]` is a list of
    (status, headers, body) answered in turn, the last one repeating; every request is logged."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict = {}
        self.log: list = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"

    def add(self, path: str, *responses, **query):
        self.routes[(path, frozenset((k, str(v)) for k, v in query.items()))] = list(responses)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        key = (url.path, frozenset(urllib.parse.parse_qsl(url.query)))
        self.server.log.append((self.path, dict(self.headers)))
        answers = self.server.routes.get(key) or [(404, {}, {"message": "Not Found"})]
        status, headers, body = answers.pop(0) if len(answers) > 1 else answers[0]
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, str(value))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_github():
    server = FakeGitHub()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _repo_json(name: str, clone: Path) -> dict:
    return {"id": 1, "name": name.split("/")[1], "full_name": name, "default_branch": "main",
            "clone_url": clone.as_uri(), "html_url": f"https://github.example/{name}", "private": False}


def _pull_json(number: int, head_ref: str, sha: str, head_repo: dict, base: dict, base_ref: str = "main",
               mergeable=True, state="clean") -> dict:
    return {"url": f"https://api.github.example/repos/acme/widgets/pulls/{number}", "number": number,
            "state": "open", "title": f"PR {head_ref}", "html_url": f"https://github.example/acme/widgets/pull/{number}",
            "user": {"login": "dev"}, "draft": False,
            "head": {"label": f"dev:{head_ref}", "ref": head_ref, "sha": sha, "repo": head_repo},
            "base": {"label": f"acme:{base_ref}", "ref": base_ref, "sha": "0" * 40, "repo": base},
            "mergeable": mergeable, "mergeable_state": state, "merged": False}


@pytest.fixture
def forge(tmp_path, fake_github):
    """Upstream (bare, with refs/pull/N/head), a fork holding PR #4's branch, and the API for them."""
    work, upstream, fork = tmp_path / "work", tmp_path / "upstream.git", tmp_path / "fork.git"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    commit(work, "root", {"a.txt": "".join(LINES), "b.txt": "".join(LINES), "c.txt": "".join(LINES)})
    branch(work, "feat-clean", "main", {"a.txt": edit(LINES, 10, "clean")})
    branch(work, "feat-conflict", "main", {"a.txt": edit(LINES, 1, "branch")})
    branch(work, "pair-x", "main", {"b.txt": edit(LINES, 5, "x")})
    branch(work, "pair-y", "main", {"b.txt": edit(LINES, 5, "y")})
    branch(work, "fork-feature", "main", {"c.txt": edit(LINES, 3, "fork")})
    branch(work, "dev", "main", {"d.txt": "dev\n"})
    git(work, "checkout", "-q", "main")
    commit(work, "main moves", {"a.txt": edit(LINES, 1, "main")})
    for bare in (upstream, fork):
        git(tmp_path, "init", "-q", "--bare", str(bare))
    numbers = {1: "feat-clean", 2: "feat-conflict", 3: "pair-x", 5: "pair-y", 6: "dev"}
    git(work, "push", "-q", str(upstream), "main", "dev", *[f"{b}:refs/pull/{n}/head" for n, b in numbers.items()])
    git(work, "push", "-q", str(fork), "fork-feature")
    sha = {b: git(work, "rev-parse", b).stdout.strip() for b in [*numbers.values(), "fork-feature"]}
    base, forked = _repo_json("acme/widgets", upstream), _repo_json("dev/widgets", fork)
    pulls = [_pull_json(1, "feat-clean", sha["feat-clean"], base, base),
             _pull_json(2, "feat-conflict", sha["feat-conflict"], base, base, mergeable=False, state="dirty"),
             _pull_json(3, "pair-x", sha["pair-x"], base, base),
             _pull_json(4, "fork-feature", sha["fork-feature"], forked, base, state="unstable"),
             _pull_json(5, "pair-y", sha["pair-y"], base, base),
             _pull_json(6, "dev", sha["dev"], base, base, base_ref="main-not")]
    api, srv = "/api/v3/repos/acme/widgets", fake_github
    srv.add(api, (200, {}, base))
    query = {"state": "open", "base": "main", "per_page": 100}
    nxt = f'<{srv.url}{api}/pulls?state=open&base=main&per_page=100&page=2>; rel="next", <{srv.url}{api}/pulls?page=2>; rel="last"'
    srv.add(f"{api}/pulls", (200, {"Link": nxt}, pulls[:3]), **query)
    srv.add(f"{api}/pulls", (429, {"Retry-After": "1"}, {"message": "You have exceeded a secondary rate limit."}),
            (200, {}, pulls[3:]), **query, page=2)
    for p in pulls:
        srv.add(f"{api}/pulls/{p['number']}", (200, {}, p))
    return srv, f"{srv.url}/api/v3"


def test_github_pull_requests(cli, forge, monkeypatch):
    server, api = forge
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    result = cli("pr-check", "--github", "acme/widgets", "--api-url", api, "--json")
    assert result.exit_code == 1, result.stderr
    assert TOKEN not in result.stdout + result.stderr
    report = json.loads(result.stdout)
    got = {b["number"]: b for b in report["branches"]}
    assert sorted(got) == [1, 2, 3, 4, 5]  # PR 6 targets another base
    assert {n: b["status"] for n, b in got.items()} == {1: "clean", 2: "conflict", 3: "clean", 4: "clean", 5: "clean"}
    assert got[2]["conflict_files"] == ["a.txt"] and got[2]["github_mergeable_state"] == "dirty"
    assert got[4]["head_ref"] == "fork-feature" and got[4]["ahead"] == 1  # fetched from the fork
    assert [(p["a"], p["b"], p["files"]) for p in report["pairs"]] == [("#3", "#5", ["b.txt"])]
    assert all(h.get("Authorization") == f"Bearer {TOKEN}" for _, h in server.log)
    assert sum("page=2" in path for path, _ in server.log) == 2  # rate-limited once, then retried
    mirror = Path(report["mirror"])
    assert mirror.is_dir() and git(mirror, "rev-parse", "refs/pull/4/head").returncode == 0
    table = cli("pr-check", "--github", "acme/widgets", "--api-url", api, "--branches", "2,#3")
    assert table.exit_code == 1 and "dirty" in table.stdout and "#3" in table.stdout and "#1" not in table.stdout


def test_github_errors_exit_2_without_the_token(cli, fake_github, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    api = f"{fake_github.url}/api/v3"
    missing = cli("pr-check", "--github", "acme/nope", "--api-url", api)
    assert missing.exit_code == 2 and "HTTP 404" in missing.stderr
    reset = str(int(time.time()) + 3600)
    fake_github.add("/api/v3/repos/acme/limited", (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
                                                   {"message": f"API rate limit exceeded for {TOKEN}"}))
    limited = cli("pr-check", "--github", "acme/limited", "--api-url", api, "--max-wait", "5")
    assert limited.exit_code == 2 and "rate limit" in limited.stderr and "resets in" in limited.stderr
    assert TOKEN not in limited.stderr + limited.stdout
    assert cli("pr-check", "--github", "not a repo").exit_code == 2


def test_github_client_waits_for_the_reset_and_polls_mergeable(forge, tmp_path):
    from qtk.tools.pr_check.github import GitHubClient

    server, api = forge
    pull = server.routes[("/api/v3/repos/acme/widgets/pulls/1", frozenset())][0][2]
    reset = str(int(time.time()) + 30)
    server.add("/api/v3/repos/acme/widgets/pulls/1", (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
                                                      {"message": "API rate limit exceeded"}),
               (200, {}, {"number": 1, "mergeable": None}), (200, {}, {"number": 1, "mergeable": True}))
    slept = []
    client = GitHubClient(api, max_wait=120, sleep=slept.append)
    assert client.pull("acme/widgets", 1) == {"number": 1, "mergeable": None}
    assert len(slept) == 1 and 25 < slept[0] <= 32
    server.add("/api/v3/repos/acme/widgets/pulls/1", (200, {}, {**pull, "mergeable": None}), (200, {}, pull))
    report = check_github("acme/widgets", tmp_path / "cache", api_url=api, branches=["1"], poll_delay=0.01)
    assert report.branches[0].extra["github_mergeable"] is True  # asked again after the null
    assert sum(path.endswith("/pulls/1") for path, _ in server.log) == 4  # 403, null; null, true
